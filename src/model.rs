//! Plain data types shared by every layer: what the function, its images, its objects and its
//! logs look like once they have been read from AWS.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A content digest in the one form lambdactl ever shows or stores: `sha256:<64 lowercase hex>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// Why a piece of text is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a sha256 digest: expected sha256:<64 hex>, got {0:?}")]
pub struct DigestError(String);

impl Digest {
    /// Builds a digest from the 64 hex characters alone, as Lambda's `CodeSha256` carries them.
    pub fn from_hex(hex: &str) -> Result<Self, DigestError> {
        format!("sha256:{hex}").parse()
    }

    /// Finds the last `sha256:<64 hex>` inside a longer text such as an image URI or the
    /// digest file. The last one wins because a URI names the digest at its end.
    pub fn find_in(text: &str) -> Option<Self> {
        text.rmatch_indices("sha256:").find_map(|(at, _)| {
            let candidate = text.get(at..at + 71)?;
            candidate.parse().ok()
        })
    }

    /// The 64 hex characters without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    /// A short form for narrow columns: the first 12 hex characters, like `docker images`.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError(text.to_owned()))?;
        let valid = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit());
        if valid {
            Ok(Self(format!("sha256:{}", hex.to_ascii_lowercase())))
        } else {
            Err(DigestError(text.to_owned()))
        }
    }
}

impl TryFrom<String> for Digest {
    type Error = DigestError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> Self {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parts of a Lambda function's configuration that lambdactl reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub package_type: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub last_update_status: String,
    pub last_update_status_reason: Option<String>,
    pub revision_id: Option<String>,
    pub image_uri: Option<String>,
    pub resolved_image_uri: Option<String>,
    pub code_sha256: Option<String>,
    pub architectures: Vec<String>,
    /// Only the one environment variable discovery needs; other values may be secrets.
    pub bucket_variable: Option<String>,
    pub log_group: Option<String>,
    pub timeout_seconds: Option<i32>,
    pub memory_mb: Option<i32>,
}

impl FunctionInfo {
    /// The digest the function really runs.
    ///
    /// Lambda resolves a tag once, at update time, so the image URI's text may name a tag whose
    /// current digest is something else. The resolved URI is the truth; `CodeSha256` carries the
    /// same digest for image functions and serves when the resolved URI cannot be read.
    pub fn deployed_digest(&self) -> Option<Digest> {
        let resolved = self.resolved_image_uri.as_deref().and_then(Digest::find_in);
        resolved.or_else(|| {
            self.code_sha256
                .as_deref()
                .and_then(|hex| Digest::from_hex(hex).ok())
        })
    }

    /// The ECR repository name the image URI points at, e.g. `python-lambda-repo`.
    pub fn repository_name(&self) -> Option<String> {
        self.image_uri
            .as_deref()
            .and_then(repository_from_image_uri)
    }

    /// The function's CPU architecture as Lambda names it (`x86_64` or `arm64`).
    pub fn architecture(&self) -> String {
        self.architectures
            .first()
            .cloned()
            .unwrap_or_else(|| "x86_64".to_owned())
    }
}

/// Splits `host/path/name[:tag][@digest]` into the repository path, without host, tag or digest.
pub fn repository_from_image_uri(uri: &str) -> Option<String> {
    let without_digest = uri.split('@').next()?;
    let (_host, path) = without_digest.split_once('/')?;
    // A colon after the last slash starts a tag; a colon before it belongs to a host port.
    let name = match path.rfind(':') {
        Some(colon) if !path[colon..].contains('/') => &path[..colon],
        _ => path,
    };
    (!name.is_empty()).then(|| name.to_owned())
}

/// One image in the function's ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageInfo {
    pub digest: Digest,
    pub tags: Vec<String>,
    pub pushed_at: Option<DateTime<Utc>>,
    pub size_bytes: Option<i64>,
    pub media_type: Option<String>,
}

/// One object in the function's bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectInfo {
    pub key: String,
    pub size_bytes: i64,
    pub last_modified: Option<DateTime<Utc>>,
    pub etag: Option<String>,
}

/// The first bytes of one object, read for a preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub key: String,
    /// The whole object, or as much of its start as was asked for.
    pub bytes: Vec<u8>,
    /// The object's size, when the service said it.
    pub total_bytes: Option<u64>,
    pub content_type: Option<String>,
}

impl ObjectHead {
    /// Whether only the start of the object was read.
    pub fn is_partial(&self) -> bool {
        self.total_bytes
            .is_some_and(|total| total > self.bytes.len() as u64)
    }
}

/// One log stream of the function's log group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogStreamInfo {
    pub name: String,
    pub last_event: Option<DateTime<Utc>>,
    pub stored_bytes: Option<i64>,
}

/// One CloudWatch log event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    #[serde(serialize_with = "millis_rfc3339")]
    pub timestamp: DateTime<Utc>,
    pub stream: String,
    pub message: String,
    pub event_id: Option<String>,
}

/// Login for the registry behind ECR, from a fresh authorization token. The password is a
/// secret: it is never printed, logged or written anywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
    /// The registry host, without scheme, e.g. `111122223333.dkr.ecr.eu-west-1.amazonaws.com`.
    pub server: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("server", &self.server)
            .finish()
    }
}

/// Sorts images newest push first; the listing order breaks ties so later pushes stay on top.
pub fn sort_images_newest_first(images: &mut [ImageInfo]) {
    images.reverse();
    images.sort_by_key(|image| std::cmp::Reverse(image.pushed_at));
}

/// Sorts objects newest first. Data keys embed their time, so the key breaks ties in the
/// modification time (S3 keeps it to the second only).
pub fn sort_objects_newest_first(objects: &mut [ObjectInfo]) {
    objects.sort_by(|a, b| {
        b.last_modified
            .cmp(&a.last_modified)
            .then_with(|| b.key.cmp(&a.key))
    });
}

/// Sorts log streams by their last event, newest first, as the console lists them.
pub fn sort_streams_newest_first(streams: &mut [LogStreamInfo]) {
    streams.sort_by_key(|stream| std::cmp::Reverse(stream.last_event));
}

/// Writes a time as RFC 3339 with exactly three fraction digits, as CloudWatch keeps it, so the
/// texts sort in time order.
fn millis_rfc3339<S: serde::Serializer>(
    at: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// Converts milliseconds since the epoch, as CloudWatch counts time, into a UTC time.
pub fn time_from_millis(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "4f3c0c1bd2b1c8d7a3c1b8e0f5c7a3e9d2b1c8d7a3c1b8e0f5c7a3e9d2b1c8d7";

    #[test]
    fn digest_parses_only_the_canonical_form() {
        assert_eq!(
            format!("sha256:{HEX}").parse::<Digest>().unwrap().hex(),
            HEX
        );
        assert!("sha256:abc".parse::<Digest>().is_err());
        assert!(HEX.parse::<Digest>().is_err());
        assert!(format!("sha512:{HEX}").parse::<Digest>().is_err());
        assert_eq!(Digest::from_hex(&HEX.to_uppercase()).unwrap().hex(), HEX);
    }

    #[test]
    fn digest_is_found_at_the_end_of_uris_and_files() {
        let uri = format!("1.dkr.ecr.us-east-1.amazonaws.com/repo@sha256:{HEX}");
        assert_eq!(Digest::find_in(&uri).unwrap().hex(), HEX);
        // A malformed resolved URI with the algorithm written twice still names one digest.
        let doubled = format!("1.dkr.ecr.us-east-1.amazonaws.com/repo@sha256@sha256:{HEX}");
        assert_eq!(Digest::find_in(&doubled).unwrap().hex(), HEX);
        assert_eq!(
            Digest::find_in(&format!("[\"repo@sha256:{HEX}\"]\n"))
                .unwrap()
                .hex(),
            HEX
        );
        assert_eq!(Digest::find_in("repo:latest"), None);
    }

    #[test]
    fn deployed_digest_prefers_the_resolved_uri_over_the_uri_text() {
        let other = "a".repeat(64);
        let function = FunctionInfo {
            image_uri: Some("1.dkr.ecr.eu-west-1.amazonaws.com/repo:latest".into()),
            resolved_image_uri: Some(format!(
                "1.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:{HEX}"
            )),
            code_sha256: Some(other.clone()),
            ..FunctionInfo::default()
        };
        assert_eq!(function.deployed_digest().unwrap().hex(), HEX);

        let without_resolved = FunctionInfo {
            resolved_image_uri: None,
            ..function
        };
        assert_eq!(without_resolved.deployed_digest().unwrap().hex(), other);
    }

    #[test]
    fn repository_name_ignores_host_port_tag_and_digest() {
        let cases = [
            (
                "1.dkr.ecr.us-east-1.amazonaws.com/python-lambda-repo:latest",
                "python-lambda-repo",
            ),
            (
                "1.dkr.ecr.us-east-1.amazonaws.com/team/app@sha256:00",
                "team/app",
            ),
            ("127.0.0.1:5000/python-lambda-repo", "python-lambda-repo"),
            ("127.0.0.1:5000/ns/repo:v1@sha256:00", "ns/repo"),
        ];
        for (uri, expected) in cases {
            assert_eq!(
                repository_from_image_uri(uri).as_deref(),
                Some(expected),
                "{uri}"
            );
        }
        assert_eq!(repository_from_image_uri("no-slash"), None);
    }

    #[test]
    fn objects_sort_newest_first_with_the_key_breaking_ties() {
        let at = DateTime::from_timestamp(1_700_000_000, 0);
        let object = |key: &str| ObjectInfo {
            key: key.into(),
            size_bytes: 1,
            last_modified: at,
            etag: None,
        };
        let mut objects = vec![
            object("data-2026-01-01"),
            object("data-2026-01-03"),
            object("data-2026-01-02"),
        ];
        sort_objects_newest_first(&mut objects);
        let keys: Vec<_> = objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(
            keys,
            ["data-2026-01-03", "data-2026-01-02", "data-2026-01-01"]
        );
    }
}
