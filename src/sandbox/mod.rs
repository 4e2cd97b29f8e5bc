//! The built-in sandbox: local stand-ins for the AWS services, seeded like the system the old
//! Terraform built, so lambdactl runs on a machine with no AWS account.
//!
//! This is the lowest layer: it talks to the stand-ins with the SDK directly and imports nothing
//! else from lambdactl.

mod images;
mod loopback;
mod moto;
mod process;
mod registry;
mod seed;

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use seed::{FUNCTION_NAME, LOG_GROUP, REPOSITORY_NAME, SeedSummary};

/// The region every sandbox service answers in.
pub const REGION: &str = "us-east-1";

/// The placeholder keys the stand-ins accept. They open nothing outside this machine.
pub const ACCESS_KEY_ID: &str = "sandbox";
pub const SECRET_ACCESS_KEY: &str = "sandbox";

/// The SDK configuration for talking to the sandbox's stand-ins with the placeholder keys.
async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let credentials = aws_sdk_lambda::config::Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        None,
        None,
        "sandbox",
    );
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .load()
        .await
}

/// The environment variable that moves the sandbox's folder (state file, logs), so tests and
/// several users on one bastion can each run their own.
pub const DIR_VARIABLE: &str = "LAMBDACTL_SANDBOX_DIR";

/// A sandbox failure, said as what was being done and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{doing}: {cause}")]
    Io {
        doing: String,
        cause: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("seeding the sandbox: {0}")]
    Seed(String),
}

impl SandboxError {
    fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let doing = doing.into();
        move |cause| Self::Io { doing, cause }
    }
}

/// What `up` recorded about the sandbox it started, kept in `sandbox.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxState {
    pub moto_pid: u32,
    pub port: u16,
    pub bucket: String,
    /// Set once seeding finished; a sandbox that was started but not seeded says so.
    #[serde(default)]
    pub seeded: bool,
    /// The container registry and its relay, when a registry program is installed.
    #[serde(default)]
    pub registry: Option<RegistryState>,
}

/// What `down` did besides stopping the processes.
#[derive(Debug, Default)]
pub struct Stopped {
    /// Local image tags naming the sandbox registry that were removed.
    pub removed_tags: usize,
    /// Why some could not be removed.
    pub warning: Option<String>,
}

/// The sandbox's registry and the relay that registers its pushes in the emulated ECR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryState {
    pub registry_pid: u32,
    pub registry_port: u16,
    pub relay_pid: u32,
    pub relay_port: u16,
}

impl RegistryState {
    /// The registry's host, as an image name starts with it.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.registry_port)
    }

    fn is_running(&self) -> bool {
        process::is_running(self.registry_pid, registry::REGISTRY_MARKER)
            && process::is_running(self.relay_pid, registry::RELAY_MARKER)
    }
}

impl SandboxState {
    /// The AWS endpoint URL of the stand-in.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `export` lines that point the AWS CLI and lambdactl at this sandbox.
    pub fn env_lines(&self) -> String {
        let mut variables = vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_DEFAULT_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.to_owned()),
        ];
        if let Some(registry) = &self.registry {
            variables.push(("LAMBDACTL_REGISTRY", registry.address()));
        }
        variables
            .iter()
            .fold(String::new(), |mut lines, (name, value)| {
                let _ = writeln!(lines, "export {name}={value}");
                lines
            })
    }
}

fn stop_registry(registry: &RegistryState) -> Result<(), SandboxError> {
    process::stop(registry.registry_pid, registry::REGISTRY_MARKER)?;
    process::stop(registry.relay_pid, registry::RELAY_MARKER)
}

/// Runs the relay from the registry to the emulated ECR until it is stopped; `sandbox up`
/// starts it as a process of its own.
pub async fn run_relay(port: u16, moto_port: u16, registry_port: u16) -> Result<(), SandboxError> {
    registry::relay(port, moto_port, registry_port).await
}

/// Options for `sandbox up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// The port for the AWS stand-in; `None` takes a free one.
    pub port: Option<u16>,
}

/// How a sandbox looks right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Nothing recorded, or the recorded process is gone.
    Down,
    /// The process runs and answers, but seeding did not finish.
    Unseeded(SandboxState),
    Up(SandboxState),
}

/// One sandbox, identified by its folder.
#[derive(Debug, Clone)]
pub struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    /// The sandbox in `LAMBDACTL_SANDBOX_DIR`, or in the user's state folder.
    pub fn from_env() -> Result<Self, SandboxError> {
        let dir = match std::env::var_os(DIR_VARIABLE) {
            Some(dir) => PathBuf::from(dir),
            None => directories::ProjectDirs::from("", "", "lambdactl")
                .map(|dirs| {
                    dirs.state_dir()
                        .unwrap_or_else(|| dirs.data_local_dir())
                        .join("sandbox")
                })
                .ok_or_else(|| {
                    SandboxError::Setup(format!(
                        "finding a folder for the sandbox: no home folder; set {DIR_VARIABLE}"
                    ))
                })?,
        };
        Ok(Self { dir })
    }

    /// The sandbox kept in `dir`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("sandbox.json")
    }

    /// The recorded state, if any.
    pub fn state(&self) -> Result<Option<SandboxState>, SandboxError> {
        let path = self.state_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(SandboxError::io(format!("reading {}", path.display()))(
                    error,
                ));
            }
        };
        serde_json::from_str(&text).map(Some).map_err(|error| {
            SandboxError::Setup(format!(
                "reading {}: {error}; remove the file and run `lambdactl sandbox up` again",
                path.display()
            ))
        })
    }

    fn write_state(&self, state: &SandboxState) -> Result<(), SandboxError> {
        let path = self.state_path();
        let text = serde_json::to_string_pretty(state).expect("the state serializes");
        // Written aside and renamed, so a reader never sees half a file.
        let partial = path.with_extension("json.partial");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(SandboxError::io(format!("writing {}", path.display())))
    }

    /// Checks the recorded process and whether it still answers.
    pub async fn health(&self) -> Result<Health, SandboxError> {
        let Some(state) = self.state()? else {
            return Ok(Health::Down);
        };
        if !process::is_running(state.moto_pid, "moto") || !moto::answers(state.port).await {
            return Ok(Health::Down);
        }
        Ok(if state.seeded {
            Health::Up(state)
        } else {
            Health::Unseeded(state)
        })
    }

    /// Starts the stand-ins and seeds them, unless they already run. Safe to call again.
    pub async fn up(
        &self,
        options: &UpOptions,
        progress: &mut dyn FnMut(&str),
    ) -> Result<SandboxState, SandboxError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(SandboxError::io(format!("creating {}", self.dir.display())))?;
        // Two `up` calls at once (two terminals, parallel tests) must not start two servers.
        let _lock = self.lock()?;

        let mut state = match self.health().await? {
            Health::Up(state)
                if state
                    .registry
                    .as_ref()
                    .is_some_and(RegistryState::is_running) =>
            {
                progress(&format!("sandbox already up at {}", state.endpoint()));
                return Ok(state);
            }
            Health::Up(state) => {
                progress(&format!("sandbox already up at {}", state.endpoint()));
                state
            }
            Health::Unseeded(state) => state,
            Health::Down => {
                let server = moto::ensure_installed(&self.cache_dir(), progress).await?;
                let port = match options.port.or_else(|| self.last_port()) {
                    Some(port) => port,
                    None => process::free_port()?,
                };
                // The same port next time keeps shells that ran `sandbox env` working.
                let _ = std::fs::write(self.dir.join("last-port"), port.to_string());
                progress(&format!(
                    "starting the AWS stand-in (moto) on 127.0.0.1:{port}"
                ));
                let pid = moto::start(&server, port, &self.dir.join("moto.log"))?;
                let state = SandboxState {
                    moto_pid: pid,
                    port,
                    bucket: seed::new_bucket_name(),
                    seeded: false,
                    registry: None,
                };
                // Recorded at once so `down` can stop the process even if seeding fails.
                self.write_state(&state)?;
                moto::wait_until_ready(pid, port, Duration::from_mins(1)).await?;
                moto::configure(port).await?;
                state
            }
        };

        // The registry first: with a Docker engine, the seed pushes real images through it.
        self.ensure_registry(&mut state, progress).await?;
        if !state.seeded {
            progress("seeding IAM, ECR, S3, CloudWatch Logs and Lambda");
            let summary = seed::seed(&state, progress).await?;
            progress(&summary.to_string());
            state.seeded = true;
            self.write_state(&state)?;
        }
        Ok(state)
    }

    /// Starts the registry and its relay when a registry program is installed and they do not
    /// run yet. Without one, the sandbox still serves every pane; only pushes need it.
    async fn ensure_registry(
        &self,
        state: &mut SandboxState,
        progress: &mut dyn FnMut(&str),
    ) -> Result<(), SandboxError> {
        if state
            .registry
            .as_ref()
            .is_some_and(RegistryState::is_running)
        {
            return Ok(());
        }
        if let Some(stale) = state.registry.take() {
            stop_registry(&stale)?;
        }
        let Some(program) = registry::registry_program() else {
            progress(
                "no container registry: install docker-registry (Debian) to deploy into the sandbox",
            );
            self.write_state(state)?;
            return Ok(());
        };
        progress("starting the container registry and its relay to ECR");
        let started = match registry::start(&self.dir, state.port, &program).await {
            Ok(started) => started,
            Err(error) => {
                self.write_state(state)?;
                return Err(error);
            }
        };
        state.registry = Some(RegistryState {
            registry_pid: started.registry_pid,
            registry_port: started.registry_port,
            relay_pid: started.relay_pid,
            relay_port: started.relay_port,
        });
        self.write_state(state)?;
        progress(&format!("registry on 127.0.0.1:{}", started.registry_port));
        Ok(())
    }

    /// Removes the local image tags that name the sandbox registry, then stops the processes
    /// `up` started (and only those) and forgets them. `None` when no sandbox was running.
    pub async fn down(&self) -> Result<Option<Stopped>, SandboxError> {
        let _lock = self.lock()?;
        let Some(state) = self.state()? else {
            return Ok(None);
        };
        let mut stopped = Stopped::default();
        // Before the registry stops: while it runs, its port (and so the tags' names) cannot
        // belong to another sandbox.
        if let Some(registry) = &state.registry
            && let Some(docker) = images::reachable_engine().await
        {
            // The sandbox goes down either way: a tag left behind is worth a warning, no more.
            match images::remove_registry_tags(&docker, &registry.address()).await {
                Ok(count) => stopped.removed_tags = count,
                Err(error) => stopped.warning = Some(error.to_string()),
            }
        }
        if let Some(registry) = &state.registry {
            stop_registry(registry)?;
        }
        process::stop(state.moto_pid, "moto")?;
        std::fs::remove_file(self.state_path()).map_err(SandboxError::io(format!(
            "removing {}",
            self.state_path().display()
        )))?;
        Ok(Some(stopped))
    }

    /// The port the last sandbox in this folder used, if it is free again.
    fn last_port(&self) -> Option<u16> {
        let text = std::fs::read_to_string(self.dir.join("last-port")).ok()?;
        let port = text.trim().parse().ok()?;
        std::net::TcpListener::bind(("127.0.0.1", port))
            .ok()
            .map(|_| port)
    }

    fn lock(&self) -> Result<File, SandboxError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(SandboxError::io(format!("creating {}", self.dir.display())))?;
        let path = self.dir.join("lock");
        let file =
            File::create(&path).map_err(SandboxError::io(format!("opening {}", path.display())))?;
        file.lock()
            .map_err(SandboxError::io(format!("locking {}", path.display())))?;
        Ok(file)
    }

    /// Where moto is installed when it is not on `PATH`; shared by every sandbox of the user.
    fn cache_dir(&self) -> PathBuf {
        std::env::var_os("LAMBDACTL_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                directories::ProjectDirs::from("", "", "lambdactl")
                    .map(|dirs| dirs.cache_dir().to_owned())
            })
            .unwrap_or_else(|| self.dir.join("cache"))
    }
}
