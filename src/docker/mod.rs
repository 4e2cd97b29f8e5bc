//! A thin client for the Docker Engine API (through bollard): build, inspect, push. The engine
//! is the one `DOCKER_HOST` names, or the local socket, so a small bastion can build remotely.
//! Nothing here draws; progress goes to the caller's callbacks.

use std::collections::HashMap;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion, PushImageOptions};
use futures::StreamExt;

use crate::model::{Digest, RegistryLogin};

/// An engine call that failed, with what was being done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    #[error(
        "connecting to the Docker engine: {0}; start dockerd or point DOCKER_HOST at an engine"
    )]
    Connect(String),
    #[error("{doing}: {message}")]
    Failed { doing: String, message: String },
    /// The registry refused the login; a fresh token may help.
    #[error("{doing}: the registry refused the login: {message}")]
    Unauthorized { doing: String, message: String },
}

fn failed(doing: &str, message: impl Into<String>) -> DockerError {
    DockerError::Failed {
        doing: doing.to_owned(),
        message: message.into(),
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The build context as an uncompressed tar.
    pub context_tar: Vec<u8>,
    /// The Dockerfile's path inside the tar.
    pub dockerfile: String,
    /// The name to give the image, `registry/repository:tag`.
    pub tag: String,
    pub platform: String,
    pub build_args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
}

/// The facts about a built image that decide whether Lambda can run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    pub id: String,
    pub architecture: String,
    pub os: String,
    pub labels: HashMap<String, String>,
}

/// One step of a push, as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushProgress {
    pub status: String,
    pub current: Option<i64>,
    pub total: Option<i64>,
}

/// The engine connection.
#[derive(Debug, Clone)]
pub struct DockerClient {
    docker: Docker,
}

impl DockerClient {
    /// Connects as the Docker CLI would (`DOCKER_HOST`, else the local socket) and checks that
    /// the engine answers.
    pub async fn connect() -> Result<Self, DockerError> {
        let docker = Docker::connect_with_defaults()
            .map_err(|error| DockerError::Connect(error.to_string()))?;
        docker
            .ping()
            .await
            .map_err(|error| DockerError::Connect(error.to_string()))?;
        Ok(Self { docker })
    }

    /// Builds an image with the classic builder, which makes one single-platform manifest and no
    /// attestation index (Lambda refuses an index). Every log line goes to `on_log`; an error
    /// anywhere in the stream fails the build.
    pub async fn build(
        &self,
        request: BuildRequest,
        on_log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), DockerError> {
        let doing = "building the image";
        let options = BuildImageOptions {
            dockerfile: request.dockerfile,
            t: Some(request.tag),
            platform: request.platform,
            buildargs: Some(request.build_args),
            labels: Some(request.labels),
            rm: true,
            forcerm: true,
            version: BuilderVersion::BuilderV1,
            ..BuildImageOptions::default()
        };
        let body = bollard::body_full(request.context_tar.into());
        let mut stream = self.docker.build_image(options, None, Some(body));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| failed(doing, stream_error(&error)))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(doing, detail.message.unwrap_or_default()));
            }
            if let Some(text) = info.stream.as_deref().or(info.status.as_deref()) {
                for line in text.lines().filter(|line| !line.trim().is_empty()) {
                    on_log(line);
                }
            }
        }
        Ok(())
    }

    /// Reads an image's platform and labels.
    pub async fn inspect(&self, image: &str) -> Result<ImageFacts, DockerError> {
        let inspected =
            self.docker.inspect_image(image).await.map_err(|error| {
                failed(&format!("inspecting image {image}"), stream_error(&error))
            })?;
        Ok(ImageFacts {
            id: inspected.id.unwrap_or_default(),
            architecture: inspected.architecture.unwrap_or_default(),
            os: inspected.os.unwrap_or_default(),
            labels: inspected
                .config
                .and_then(|config| config.labels)
                .unwrap_or_default(),
        })
    }

    /// Pushes `name:tag` and returns the digest the registry reported. Success needs a clean end
    /// of the stream and a digest: an error item anywhere, even after progress lines in an
    /// HTTP 200 answer, fails the push.
    pub async fn push(
        &self,
        name: &str,
        tag: &str,
        login: &RegistryLogin,
        on_progress: &mut (dyn FnMut(PushProgress) + Send),
    ) -> Result<Digest, DockerError> {
        let doing = format!("pushing {name}:{tag}");
        let credentials = DockerCredentials {
            username: Some(login.username.clone()),
            password: Some(login.password.clone()),
            serveraddress: Some(login.server.clone()),
            ..DockerCredentials::default()
        };
        let options = PushImageOptions {
            tag: Some(tag.to_owned()),
            platform: None,
        };
        let mut stream = self
            .docker
            .push_image(name, Some(options), Some(credentials));
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| push_error(&doing, &stream_error(&error)))?;
            if let Some(detail) = info.error_detail {
                return Err(push_error(&doing, &detail.message.unwrap_or_default()));
            }
            let status = info.status.unwrap_or_default();
            if let Some(found) = digest_in_push_status(&status) {
                digest = Some(found);
            }
            let (current, total) = info
                .progress_detail
                .map_or((None, None), |p| (p.current, p.total));
            on_progress(PushProgress {
                status,
                current,
                total,
            });
        }
        digest.ok_or_else(|| failed(&doing, "the push ended without a digest from the registry"))
    }

    /// Removes a local image, leaving layers other images share.
    pub async fn remove_image(&self, image: &str) -> Result<(), DockerError> {
        self.docker
            .remove_image(
                image,
                None::<bollard::query_parameters::RemoveImageOptions>,
                None,
            )
            .await
            .map(|_| ())
            .map_err(|error| failed(&format!("removing image {image}"), stream_error(&error)))
    }
}

/// The message of an engine error, without bollard's wrapping.
fn stream_error(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Sorts a push failure: a refused login is worth one retry with a fresh token.
fn push_error(doing: &str, message: &str) -> DockerError {
    let lower = message.to_ascii_lowercase();
    let auth = [
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "denied",
    ]
    .iter()
    .any(|sign| lower.contains(sign));
    if auth {
        DockerError::Unauthorized {
            doing: doing.to_owned(),
            message: message.to_owned(),
        }
    } else {
        failed(doing, message)
    }
}

/// The engine ends a push with `<tag>: digest: sha256:<hex> size: <n>`.
pub fn digest_in_push_status(status: &str) -> Option<Digest> {
    let (_, rest) = status.split_once("digest: ")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_comes_from_the_final_push_status_only() {
        let hex = "a".repeat(64);
        let status = format!("fp-0123: digest: sha256:{hex} size: 1788");
        assert_eq!(digest_in_push_status(&status).unwrap().hex(), hex);
        assert_eq!(digest_in_push_status("Pushing"), None);
        assert_eq!(
            digest_in_push_status("x: digest: sha256:short size: 1"),
            None
        );
    }

    #[test]
    fn refused_logins_are_told_apart_from_other_push_failures() {
        assert!(matches!(
            push_error("p", "unauthorized: authentication required"),
            DockerError::Unauthorized { .. }
        ));
        assert!(matches!(
            push_error("p", "no basic auth credentials"),
            DockerError::Unauthorized { .. }
        ));
        assert!(matches!(
            push_error("p", "connection reset by peer"),
            DockerError::Failed { .. }
        ));
    }
}
