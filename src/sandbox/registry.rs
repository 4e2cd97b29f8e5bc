//! The sandbox's container registry: a Docker distribution registry on loopback whose basic-auth
//! login is what the emulated ECR's authorization token decodes to, so the real ECR login path
//! runs. A relay takes the registry's push notifications and registers each pushed manifest in
//! the emulated ECR under the same digest, so ECR lists what was pushed, as in production.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use super::process::{free_port, is_running, spawn_detached, stop};
use super::{SandboxError, loopback};

/// The markers `stop` checks in a pid's command line.
pub const REGISTRY_MARKER: &str = "registry";
pub const RELAY_MARKER: &str = "relay";

/// Manifest media types the relay registers; blobs and others are ignored.
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// The registry program, from Debian's `docker-registry` package or an upstream build.
pub fn registry_program() -> Option<PathBuf> {
    which::which("docker-registry")
        .or_else(|_| which::which("registry"))
        .ok()
}

/// What `start` started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub registry_pid: u32,
    pub registry_port: u16,
    pub relay_pid: u32,
    pub relay_port: u16,
}

/// A client of the emulated ECR, with the sandbox's placeholder keys.
async fn ecr_client(moto_port: u16) -> aws_sdk_ecr::Client {
    aws_sdk_ecr::Client::new(&super::sdk_config(&format!("http://127.0.0.1:{moto_port}")).await)
}

/// The user and password the emulated ECR's token decodes to: the login the registry must take.
pub async fn ecr_login(moto_port: u16) -> Result<(String, String), SandboxError> {
    let failed = |message: String| {
        SandboxError::Setup(format!("reading the sandbox's ECR token: {message}"))
    };
    let output = ecr_client(moto_port)
        .await
        .get_authorization_token()
        .send()
        .await
        .map_err(|error| failed(aws_sdk_ecr::error::DisplayErrorContext(&error).to_string()))?;
    let token = output
        .authorization_data()
        .first()
        .and_then(|data| data.authorization_token())
        .ok_or_else(|| failed("no token".to_owned()))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|error| failed(error.to_string()))?;
    let text = String::from_utf8(decoded).map_err(|error| failed(error.to_string()))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| failed("no user:password".to_owned()))?;
    Ok((user.to_owned(), password.to_owned()))
}

/// Starts the relay, then the registry that notifies it, and waits until both answer.
pub async fn start(dir: &Path, moto_port: u16, program: &Path) -> Result<Started, SandboxError> {
    let (user, password) = ecr_login(moto_port).await?;
    // A low bcrypt cost: the registry checks the password on every request, and this one opens
    // nothing but a throwaway registry on loopback.
    let hash = bcrypt::hash(&password, 5)
        .map_err(|error| SandboxError::Setup(format!("hashing the registry password: {error}")))?;
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, format!("{user}:{hash}\n"))
        .map_err(SandboxError::io(format!("writing {}", htpasswd.display())))?;

    let relay_port = free_port()?;
    let registry_port = free_port()?;
    let config = dir.join("registry.yml");
    std::fs::write(&config, registry_config(dir, registry_port, relay_port))
        .map_err(SandboxError::io(format!("writing {}", config.display())))?;

    let lambdactl =
        std::env::current_exe().map_err(SandboxError::io("finding the lambdactl binary"))?;
    let relay_args = [
        "sandbox",
        "relay",
        "--port",
        &relay_port.to_string(),
        "--moto-port",
        &moto_port.to_string(),
        "--registry-port",
        &registry_port.to_string(),
    ]
    .map(str::to_owned);
    let relay_args: Vec<&str> = relay_args.iter().map(String::as_str).collect();
    let relay_pid = spawn_detached(&lambdactl, &relay_args, &[], &dir.join("relay.log"))?;
    let registry_pid = spawn_detached(
        program,
        &["serve", &config.to_string_lossy()],
        &[],
        &dir.join("registry.log"),
    )?;

    let started = Started {
        registry_pid,
        registry_port,
        relay_pid,
        relay_port,
    };
    let ready = async {
        wait_until_answers(relay_pid, RELAY_MARKER, relay_port, "/health").await?;
        wait_until_answers(registry_pid, REGISTRY_MARKER, registry_port, "/v2/").await
    };
    if let Err(error) = ready.await {
        // Neither is recorded yet, so neither may be left running.
        let _ = stop(registry_pid, REGISTRY_MARKER);
        let _ = stop(relay_pid, RELAY_MARKER);
        return Err(error);
    }
    Ok(started)
}

fn registry_config(dir: &Path, port: u16, relay_port: u16) -> String {
    let storage = dir.join("registry-data");
    let htpasswd = dir.join("htpasswd");
    format!(
        "version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
auth:
  htpasswd:
    realm: lambdactl-sandbox
    path: {htpasswd}
notifications:
  endpoints:
    - name: lambdactl-relay
      url: http://127.0.0.1:{relay_port}/events
      timeout: 5s
      threshold: 5
      backoff: 1s
",
        storage = storage.display(),
        htpasswd = htpasswd.display(),
    )
}

async fn wait_until_answers(
    pid: u32,
    marker: &str,
    port: u16,
    path: &str,
) -> Result<(), SandboxError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if loopback::request(port, "GET", path, &[], None)
            .await
            .is_ok()
        {
            return Ok(());
        }
        if !is_running(pid, marker) {
            return Err(SandboxError::Setup(format!(
                "starting the sandbox {marker} on port {port}: it exited; see {marker}.log in the sandbox folder"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(SandboxError::Setup(format!(
        "starting the sandbox {marker} on port {port}: no answer after 30 s"
    )))
}

/// The registry's notification envelope, as far as the relay reads it.
#[derive(Debug, Deserialize)]
struct Envelope {
    events: Vec<RegistryEvent>,
}

#[derive(Debug, Deserialize)]
struct RegistryEvent {
    action: String,
    target: Target,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Target {
    media_type: String,
    digest: String,
    repository: String,
    #[serde(default)]
    tag: Option<String>,
}

/// Runs the relay until it is killed: each manifest push the registry reports is registered in
/// the emulated ECR. A failure answers 500, so the registry sends the event again.
pub async fn relay(port: u16, moto_port: u16, registry_port: u16) -> Result<(), SandboxError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(SandboxError::io(format!("listening on 127.0.0.1:{port}")))?;
    let (user, password) = ecr_login(moto_port).await?;
    let authorization = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    let context = std::sync::Arc::new(RelayContext {
        ecr: ecr_client(moto_port).await,
        registry_port,
        authorization,
    });
    eprintln!("relay listening on 127.0.0.1:{port}");
    loop {
        let (stream, _) = listener
            .accept()
            .await
            .map_err(SandboxError::io("accepting a connection"))?;
        let context = context.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let context = context.clone();
                async move { Ok::<_, Infallible>(context.handle(request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                eprintln!("relay connection: {error}");
            }
        });
    }
}

struct RelayContext {
    ecr: aws_sdk_ecr::Client,
    registry_port: u16,
    authorization: String,
}

impl RelayContext {
    async fn handle(
        &self,
        request: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<bytes::Bytes>> {
        let respond = |status: u16, text: String| {
            let mut response = hyper::Response::new(Full::new(bytes::Bytes::from(text)));
            *response.status_mut() = hyper::StatusCode::from_u16(status)
                .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
            response
        };
        if request.uri().path() == "/health" {
            return respond(200, "ok".to_owned());
        }
        let body = match request.into_body().collect().await {
            Ok(body) => body.to_bytes(),
            Err(error) => return respond(400, error.to_string()),
        };
        let envelope: Envelope = match serde_json::from_slice(&body) {
            Ok(envelope) => envelope,
            Err(error) => return respond(400, error.to_string()),
        };
        for event in envelope.events {
            if event.action != "push" || !MANIFEST_TYPES.contains(&event.target.media_type.as_str())
            {
                continue;
            }
            if let Err(message) = self.register(&event.target).await {
                eprintln!(
                    "relay: registering {} failed: {message}",
                    event.target.digest
                );
                return respond(500, message);
            }
            eprintln!(
                "relay: registered {}@{} in ECR",
                event.target.repository, event.target.digest
            );
        }
        respond(200, "ok".to_owned())
    }

    /// Copies one manifest from the registry into the emulated ECR under the same digest.
    async fn register(&self, target: &Target) -> Result<(), String> {
        let path = format!("/v2/{}/manifests/{}", target.repository, target.digest);
        let headers = [
            ("accept", target.media_type.as_str()),
            ("authorization", self.authorization.as_str()),
        ];
        let (status, manifest) =
            loopback::request(self.registry_port, "GET", &path, &headers, None)
                .await
                .map_err(|error| error.to_string())?;
        if status != 200 {
            return Err(format!("the registry answered {status} for {path}"));
        }
        let manifest = String::from_utf8(manifest.to_vec()).map_err(|error| error.to_string())?;
        let result = self
            .ecr
            .put_image()
            .repository_name(&target.repository)
            .image_manifest(manifest)
            .image_manifest_media_type(&target.media_type)
            .image_digest(&target.digest)
            .set_image_tag(target.tag.clone())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The same manifest under the same tag: ECR already has what the push made.
            Err(error)
                if aws_sdk_ecr::error::ProvideErrorMetadata::code(&error)
                    == Some("ImageAlreadyExistsException") =>
            {
                Ok(())
            }
            Err(error) => Err(aws_sdk_ecr::error::DisplayErrorContext(&error).to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_points_notifications_at_the_relay_and_auth_at_the_password_file() {
        let config = registry_config(Path::new("/tmp/sb"), 5000, 5001);
        assert!(config.contains("addr: 127.0.0.1:5000"));
        assert!(config.contains("url: http://127.0.0.1:5001/events"));
        assert!(config.contains("path: /tmp/sb/htpasswd"));
    }

    #[test]
    fn push_events_parse_as_the_registry_sends_them() {
        let body = r#"{"events":[{"id":"1","timestamp":"2026-12-03T16:00:00Z","action":"push",
            "target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,
            "digest":"sha256:abc","length":528,"repository":"python-lambda-repo","url":"http://x","tag":"fp-1"},
            "request":{"id":"r"},"actor":{"name":"AWS"},"source":{"addr":"x"}}]}"#;
        let envelope: Envelope = serde_json::from_str(body).unwrap();
        assert_eq!(envelope.events[0].target.tag.as_deref(), Some("fp-1"));
        assert_eq!(envelope.events[0].target.repository, "python-lambda-repo");
    }
}
