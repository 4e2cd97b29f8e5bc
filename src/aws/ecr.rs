//! ECR: the images of the function's repository.

use super::{AwsClients, AwsError, sdk_error};
use crate::model::{Digest, ImageInfo, time_from_millis};

impl AwsClients {
    /// Lists every image in the repository, following all pages.
    pub async fn list_images(&self, repository: &str) -> Result<Vec<ImageInfo>, AwsError> {
        let doing = format!("listing images of ECR repository {repository}");
        let details: Vec<_> = self
            .ecr
            .describe_images()
            .repository_name(repository)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|error| sdk_error(doing, &error))?;

        // An image without a valid digest cannot be deployed or compared, so it is not listed.
        let images = details
            .iter()
            .filter_map(|detail| {
                let digest: Digest = detail.image_digest()?.parse().ok()?;
                Some(ImageInfo {
                    digest,
                    tags: detail.image_tags().to_vec(),
                    pushed_at: detail
                        .image_pushed_at()
                        .and_then(|at| at.to_millis().ok())
                        .and_then(time_from_millis),
                    size_bytes: detail.image_size_in_bytes(),
                    media_type: detail.image_manifest_media_type().map(str::to_owned),
                })
            })
            .collect();
        Ok(images)
    }
}
