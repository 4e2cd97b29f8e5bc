//! ECR: the images of the function's repository.

use super::{AwsClients, AwsError, absent_if_not_found, sdk_error};
use crate::model::{Digest, ImageInfo, RegistryLogin, time_from_millis};

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
        let images = details.iter().filter_map(image_info).collect();
        Ok(images)
    }
}

fn image_info(detail: &aws_sdk_ecr::types::ImageDetail) -> Option<ImageInfo> {
    Some(ImageInfo {
        digest: detail.image_digest()?.parse().ok()?,
        tags: detail.image_tags().to_vec(),
        pushed_at: detail
            .image_pushed_at()
            .and_then(|at| at.to_millis().ok())
            .and_then(time_from_millis),
        size_bytes: detail.image_size_in_bytes(),
        media_type: detail.image_manifest_media_type().map(str::to_owned),
    })
}

/// Decodes an ECR authorization token: base64 of `user:password`. Only the first colon splits,
/// since the password itself may hold `:` and `=`.
pub fn decode_token(token: &str, proxy_endpoint: &str) -> Option<RegistryLogin> {
    use base64::Engine as _;

    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    let server = proxy_endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    Some(RegistryLogin {
        username: username.to_owned(),
        password: password.to_owned(),
        server: server.to_owned(),
    })
}

impl AwsClients {
    /// Asks ECR for a fresh registry login; tokens last 12 hours, so one is taken per push.
    pub async fn registry_login(&self) -> Result<RegistryLogin, AwsError> {
        let doing = "getting an ECR authorization token";
        let output = self
            .ecr
            .get_authorization_token()
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        let data = output.authorization_data().first();
        let token = data
            .and_then(|d| d.authorization_token())
            .unwrap_or_default();
        let endpoint = data.and_then(|d| d.proxy_endpoint()).unwrap_or_default();
        decode_token(token, endpoint).ok_or_else(|| AwsError {
            doing: doing.to_owned(),
            code: None,
            message: "the token is not base64 of user:password".to_owned(),
            request_id: None,
        })
    }

    /// The repository's URI (`host/name`), as the function's image URI must name it.
    pub async fn repository_uri(&self, repository: &str) -> Result<String, AwsError> {
        let doing = format!("reading ECR repository {repository}");
        let output = self
            .ecr
            .describe_repositories()
            .repository_names(repository)
            .send()
            .await
            .map_err(|error| sdk_error(&doing, &error))?;
        output
            .repositories()
            .first()
            .and_then(|found| found.repository_uri())
            .map(str::to_owned)
            .ok_or_else(|| AwsError {
                doing,
                code: None,
                message: "ECR returned no repository URI".to_owned(),
                request_id: None,
            })
    }

    /// Looks one image up by tag or digest; `Ok(None)` when ECR does not have it.
    pub async fn find_image(
        &self,
        repository: &str,
        id: &ImageId,
    ) -> Result<Option<ImageInfo>, AwsError> {
        let doing = format!("looking up {id} in ECR repository {repository}");
        let identifier = match id {
            ImageId::Tag(tag) => aws_sdk_ecr::types::ImageIdentifier::builder().image_tag(tag),
            ImageId::Digest(digest) => {
                aws_sdk_ecr::types::ImageIdentifier::builder().image_digest(digest.as_str())
            }
        }
        .build();
        let response = self
            .ecr
            .describe_images()
            .repository_name(repository)
            .image_ids(identifier)
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error));
        let Some(output) = absent_if_not_found(response)? else {
            return Ok(None);
        };
        Ok(output.image_details().iter().find_map(image_info))
    }
}

/// How to name one image in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageId {
    Tag(String),
    Digest(Digest),
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tag(tag) => write!(f, "tag {tag}"),
            Self::Digest(digest) => write!(f, "image {digest}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_at_the_first_colon_only() {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode("AWS:pa:ss=word==");
        let login = decode_token(&token, "https://1.dkr.ecr.eu-west-1.amazonaws.com").unwrap();
        assert_eq!(login.username, "AWS");
        assert_eq!(login.password, "pa:ss=word==");
        assert_eq!(login.server, "1.dkr.ecr.eu-west-1.amazonaws.com");
        assert!(decode_token("not base64!", "x").is_none());
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let login = RegistryLogin {
            username: "AWS".into(),
            password: "s3cr3t".into(),
            server: "h".into(),
        };
        assert!(!format!("{login:?}").contains("s3cr3t"));
    }
}
