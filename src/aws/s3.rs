//! S3: the objects the function wrote and the recorded digest file.

use super::{AwsClients, AwsError, absent_if_not_found, sdk_error};
use crate::model::{Digest, ObjectHead, ObjectInfo, time_from_millis};

/// Where the deploy pipeline records the digest the function runs.
pub const DIGEST_KEY: &str = "lambda-python/image_digest.txt";

impl AwsClients {
    /// Lists every object in the bucket, following all pages.
    pub async fn list_objects(&self, bucket: &str) -> Result<Vec<ObjectInfo>, AwsError> {
        let doing = format!("listing objects of S3 bucket {bucket}");
        let pages: Vec<_> = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        let objects = pages
            .iter()
            .flat_map(aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output::contents)
            .filter_map(|object| {
                Some(ObjectInfo {
                    key: object.key()?.to_owned(),
                    size_bytes: object.size().unwrap_or_default(),
                    last_modified: object
                        .last_modified()
                        .and_then(|at| at.to_millis().ok())
                        .and_then(time_from_millis),
                    etag: object.e_tag().map(|tag| tag.trim_matches('"').to_owned()),
                })
            })
            .collect();
        Ok(objects)
    }

    /// Reads the recorded digest. `Ok(None)` means nothing is recorded yet; a file that holds
    /// no digest is an error, since a deploy record must never be guessed.
    pub async fn recorded_digest(&self, bucket: &str) -> Result<Option<Digest>, AwsError> {
        let doing = format!("reading s3://{bucket}/{DIGEST_KEY}");
        let response = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(DIGEST_KEY)
            .send()
            .await
            .map_err(|error| sdk_error(&doing, &error));
        let Some(output) = absent_if_not_found(response)? else {
            return Ok(None);
        };
        let bytes = read_body(output.body, &doing).await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Digest::find_in(&text).map(Some).ok_or_else(|| AwsError {
            doing,
            code: None,
            message: "the file holds no sha256 digest".to_owned(),
            request_id: None,
        })
    }
}

/// Reads an object's body to the end; a connection lost on the way is an error of `doing`.
async fn read_body(
    body: aws_sdk_s3::primitives::ByteStream,
    doing: &str,
) -> Result<Vec<u8>, AwsError> {
    let collected = body
        .collect()
        .await
        .map_err(|error| AwsError::new(doing, error.to_string()))?;
    Ok(collected.into_bytes().to_vec())
}

impl AwsClients {
    /// Reads the first `limit` bytes of an object (all of it when it is smaller), for a
    /// preview: one ranged GetObject, so a large object costs no more than its start.
    pub async fn read_object_head(
        &self,
        bucket: &str,
        key: &str,
        limit: usize,
    ) -> Result<ObjectHead, AwsError> {
        let doing = format!("reading s3://{bucket}/{key}");
        let response = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=0-{}", limit.max(1) - 1))
            .send()
            .await
            .map_err(|error| sdk_error(&doing, &error));
        let output = match response {
            Ok(output) => output,
            // An empty object has no first byte for a range to start at.
            Err(error) if error.code.as_deref() == Some("InvalidRange") => {
                return Ok(ObjectHead {
                    key: key.to_owned(),
                    bytes: Vec::new(),
                    total_bytes: Some(0),
                    content_type: None,
                });
            }
            Err(error) => return Err(error),
        };
        // `bytes 0-65535/300000` names the whole size; without a range answer, the length is it.
        let total_bytes = output
            .content_range()
            .and_then(|range| range.rsplit_once('/'))
            .and_then(|(_, total)| total.parse().ok())
            .or_else(|| {
                output
                    .content_length()
                    .and_then(|length| u64::try_from(length).ok())
            });
        let content_type = output.content_type().map(str::to_owned);
        let mut bytes = read_body(output.body, &doing).await?;
        // A server that ignores the range sends everything; keep to the limit all the same.
        bytes.truncate(limit);
        Ok(ObjectHead {
            key: key.to_owned(),
            bytes,
            total_bytes,
            content_type,
        })
    }

    /// Writes one small text object.
    pub async fn put_text(
        &self,
        bucket: &str,
        key: &str,
        body: String,
        content_type: &str,
    ) -> Result<(), AwsError> {
        let doing = format!("writing s3://{bucket}/{key}");
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into_bytes().into())
            .send()
            .await
            .map_err(|error| sdk_error(doing, &error))?;
        Ok(())
    }
}
