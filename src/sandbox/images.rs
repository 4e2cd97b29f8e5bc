//! Real images for the seeded history, when a Docker engine is reachable: small images built
//! `FROM scratch` and pushed to the sandbox registry, so ECR lists manifests whose blobs exist
//! and a rollback to a seeded image pulls real content.

use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, ListImagesOptions, PushImageOptions, RemoveImageOptions,
};
use futures::StreamExt;

use super::SandboxError;

/// The engine, when one answers within a moment; the sandbox works without one.
pub async fn reachable_engine() -> Option<Docker> {
    let docker = Docker::connect_with_defaults().ok()?;
    let ping = tokio::time::timeout(Duration::from_secs(3), docker.ping()).await;
    matches!(ping, Ok(Ok(_))).then_some(docker)
}

fn failed(doing: &str, error: impl std::fmt::Display) -> SandboxError {
    SandboxError::Seed(format!("{doing}: {error}"))
}

/// A build context with a Dockerfile and a handler that differs per build.
fn context(build: usize) -> Result<Vec<u8>, SandboxError> {
    let dockerfile = format!(
        "FROM scratch\nCOPY app.py /var/task/app.py\nLABEL lambdactl.sandbox.build={build}\n\
         CMD [\"app.lambda_handler\"]\n"
    );
    let handler = format!(
        "# seeded build {build} of the sandbox's function\ndef lambda_handler(event, context):\n    return {{\"build\": {build}}}\n"
    );
    let mut archive = tar::Builder::new(Vec::new());
    for (name, content) in [("Dockerfile", dockerfile), ("app.py", handler)] {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        archive
            .append_data(&mut header, name, content.as_bytes())
            .map_err(|error| failed("packing a seed image", error))?;
    }
    archive
        .into_inner()
        .map_err(|error| failed("packing a seed image", error))
}

/// Builds and pushes `count` images tagged `v1`…`vN`, and returns their digests in order.
pub async fn push_history(
    docker: &Docker,
    registry: &str,
    repository: &str,
    login: (&str, &str),
    count: usize,
) -> Result<Vec<String>, SandboxError> {
    let name = format!("{registry}/{repository}");
    let credentials = DockerCredentials {
        username: Some(login.0.to_owned()),
        password: Some(login.1.to_owned()),
        serveraddress: Some(registry.to_owned()),
        ..DockerCredentials::default()
    };
    let mut digests = Vec::new();
    for build in 1..=count {
        let tag = format!("v{build}");
        let options = BuildImageOptions {
            dockerfile: "Dockerfile".to_owned(),
            t: Some(format!("{name}:{tag}")),
            platform: "linux/amd64".to_owned(),
            rm: true,
            version: BuilderVersion::BuilderV1,
            ..BuildImageOptions::default()
        };
        let body = bollard::body_full(context(build)?.into());
        let mut stream = docker.build_image(options, None, Some(body));
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| failed("building a seed image", error))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(
                    "building a seed image",
                    detail.message.unwrap_or_default(),
                ));
            }
        }

        let options = PushImageOptions {
            tag: Some(tag),
            platform: None,
        };
        let mut stream = docker.push_image(&name, Some(options), Some(credentials.clone()));
        let mut digest = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|error| failed("pushing a seed image", error))?;
            if let Some(detail) = info.error_detail {
                return Err(failed(
                    "pushing a seed image",
                    detail.message.unwrap_or_default(),
                ));
            }
            let status = info.status.unwrap_or_default();
            if let Some((_, rest)) = status.split_once("digest: ") {
                digest = rest.split_whitespace().next().map(str::to_owned);
            }
        }
        digests.push(digest.ok_or_else(|| failed("pushing a seed image", "no digest"))?);
    }
    Ok(digests)
}

/// Removes the engine's tags that name the sandbox registry at `registry` (`127.0.0.1:PORT`):
/// the seeded builds and every deploy to the sandbox, which would otherwise pile up with each
/// `up`, all naming a registry that is gone. An image left without a tag is deleted with its
/// layers; one tagged elsewhere as well keeps its other tags. Returns how many tags went; an error
/// names the tags that stayed.
pub async fn remove_registry_tags(docker: &Docker, registry: &str) -> Result<usize, SandboxError> {
    let prefix = format!("{registry}/");
    let images = docker
        .list_images(None::<ListImagesOptions>)
        .await
        .map_err(|error| SandboxError::Setup(format!("listing local images: {error}")))?;
    let tags: Vec<String> = images
        .into_iter()
        .flat_map(|image| image.repo_tags)
        .filter(|tag| tag.starts_with(&prefix))
        .collect();
    let mut removed = 0;
    let mut refused = Vec::new();
    for tag in &tags {
        match docker
            .remove_image(tag, None::<RemoveImageOptions>, None)
            .await
        {
            Ok(_) => removed += 1,
            // Gone already, e.g. removed by hand meanwhile.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            // E.g. a container still uses the image: the other tags go all the same.
            Err(error) => refused.push(format!("{tag} ({error})")),
        }
    }
    if refused.is_empty() {
        Ok(removed)
    } else {
        Err(SandboxError::Setup(format!(
            "removed {removed} local image tags of the sandbox registry, but not {}",
            refused.join(", ")
        )))
    }
}
