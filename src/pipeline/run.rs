//! Carries out a deploy and reports each step. Nothing is recorded unless the function was seen
//! running the new digest; a failure or a cancel at any step records nothing.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::context::{BuildContext, BuildInputs, fingerprint};
use super::plan::{
    self, DeployRecord, FINGERPRINT_LABEL, Gate, Readiness, Step, StepStatus, UpdateOutcome,
};
use crate::aws::{AwsClients, AwsError, DIGEST_KEY, ImageId};
use crate::config::{Settings, Targets};
use crate::docker::{BuildRequest, DockerClient, DockerError};
use crate::model::{Digest, FunctionInfo};

/// How long to wait for the function to become ready, and for an update to finish.
const READY_DEADLINE: Duration = Duration::from_mins(5);
/// How long a pushed image may take to show in ECR.
const ECR_DEADLINE: Duration = Duration::from_mins(1);

/// What to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Build from source, deploying only if the result differs from what runs.
    Build {
        context_dir: PathBuf,
        dockerfile: PathBuf,
        build_args: BTreeMap<String, String>,
    },
    /// An image already in ECR, such as an older one for a rollback.
    Digest(Digest),
}

/// One deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployRequest {
    pub settings: Settings,
    pub source: Source,
    /// Overrides the function's architecture, e.g. `linux/arm64`.
    pub platform: Option<String>,
    /// Show the plan and change nothing.
    pub dry_run: bool,
}

/// What the pipeline tells its watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Step {
        step: Step,
        status: StepStatus,
        detail: String,
    },
    Log {
        step: Step,
        line: String,
    },
    Progress {
        step: Step,
        label: String,
        current: u64,
        total: u64,
    },
    /// The gate found a change; the watcher must approve before the function is updated.
    AwaitingApproval {
        from: Option<Digest>,
        to: Digest,
    },
}

/// How the deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployAction {
    Deployed,
    UpToDate,
    RolledBack,
    /// A dry run that found changes to make.
    Planned,
    /// The user said no at the confirmation; nothing changed.
    Declined,
    /// The user cancelled (Ctrl-C, Esc); nothing was recorded.
    Cancelled,
    Failed,
}

/// One step in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub name: &'static str,
    pub status: StepStatus,
    pub seconds: f64,
    pub detail: String,
}

/// The deploy's result, as `deploy --output json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployReport {
    pub action: DeployAction,
    pub digest: Option<Digest>,
    pub previous_digest: Option<Digest>,
    pub fingerprint: Option<Digest>,
    pub steps: Vec<StepReport>,
    pub error: Option<String>,
}

/// A step that failed, with what to do.
#[derive(Debug, Clone, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Docker(#[from] DockerError),
    #[error("{0}")]
    Refused(String),
    #[error("cancelled; nothing was recorded")]
    Cancelled,
    #[error("not deployed: the update was declined; nothing was changed")]
    Declined,
}

/// Runs one deploy to its end, reporting each step on `events`.
pub async fn deploy(
    clients: &AwsClients,
    request: &DeployRequest,
    events: &UnboundedSender<Event>,
    cancel: &CancellationToken,
) -> DeployReport {
    deploy_with_approval(clients, request, events, cancel, None).await
}

/// Runs one deploy, and when `approval` is given, pauses once the gate knows the change: it
/// sends [`Event::AwaitingApproval`] and updates the function only after `true` arrives.
pub async fn deploy_with_approval(
    clients: &AwsClients,
    request: &DeployRequest,
    events: &UnboundedSender<Event>,
    cancel: &CancellationToken,
    approval: Option<tokio::sync::oneshot::Receiver<bool>>,
) -> DeployReport {
    let mut run = Run::new(clients, request, events, cancel);
    run.approval = approval;
    let result = run.all_steps().await;
    run.finish(result)
}

struct Run<'a> {
    clients: &'a AwsClients,
    request: &'a DeployRequest,
    events: &'a UnboundedSender<Event>,
    cancel: &'a CancellationToken,
    steps: Vec<StepReport>,
    current: Option<(Step, Instant)>,
    digest: Option<Digest>,
    previous: Option<Digest>,
    fingerprint: Option<Digest>,
    action: DeployAction,
    approval: Option<tokio::sync::oneshot::Receiver<bool>>,
}

impl<'a> Run<'a> {
    fn new(
        clients: &'a AwsClients,
        request: &'a DeployRequest,
        events: &'a UnboundedSender<Event>,
        cancel: &'a CancellationToken,
    ) -> Self {
        let steps = Step::ALL
            .iter()
            .map(|step| StepReport {
                name: step.name(),
                status: StepStatus::Pending,
                seconds: 0.0,
                detail: String::new(),
            })
            .collect();
        Self {
            clients,
            request,
            events,
            cancel,
            steps,
            current: None,
            digest: None,
            previous: None,
            fingerprint: None,
            action: DeployAction::Failed,
            approval: None,
        }
    }

    fn report(&mut self, step: Step, status: StepStatus, detail: impl Into<String>) {
        let detail = detail.into();
        let seconds = match (status, self.current) {
            (StepStatus::Running, _) => {
                self.current = Some((step, Instant::now()));
                0.0
            }
            (_, Some((running, started))) if running == step => {
                self.current = None;
                started.elapsed().as_secs_f64()
            }
            _ => 0.0,
        };
        if let Some(entry) = self
            .steps
            .iter_mut()
            .find(|entry| entry.name == step.name())
        {
            entry.status = status;
            entry.seconds = seconds;
            entry.detail.clone_from(&detail);
        }
        // The watcher may be gone (a closed console); the deploy still finishes or fails whole.
        let _ = self.events.send(Event::Step {
            step,
            status,
            detail,
        });
    }

    fn log(&self, step: Step, line: &str) {
        let _ = self.events.send(Event::Log {
            step,
            line: line.to_owned(),
        });
    }

    /// Awaits a future unless the user cancels first.
    async fn guard<T>(&self, future: impl Future<Output = T>) -> Result<T, Failure> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Failure::Cancelled),
            value = future => Ok(value),
        }
    }

    fn finish(mut self, result: Result<(), Failure>) -> DeployReport {
        let error = result.err().map(|failure| {
            if let Some((step, _)) = self.current {
                self.report(step, StepStatus::Failed, failure.to_string());
            }
            self.action = match failure {
                Failure::Declined => DeployAction::Declined,
                Failure::Cancelled => DeployAction::Cancelled,
                _ => DeployAction::Failed,
            };
            failure.to_string()
        });
        DeployReport {
            action: self.action,
            digest: self.digest,
            previous_digest: self.previous,
            fingerprint: self.fingerprint,
            steps: self.steps,
            error,
        }
    }

    async fn all_steps(&mut self) -> Result<(), Failure> {
        let function = self.wait_until_ready().await?;
        let targets = Targets::discover(&self.request.settings, &function);
        let repository = targets.repository.clone().ok_or_else(|| {
            Failure::Refused("the function names no ECR repository; pass --repository".to_owned())
        })?;
        let bucket = targets.bucket.clone().ok_or_else(|| {
            Failure::Refused(
                "the function has no S3_BUCKET_NAME to record into; pass --bucket".to_owned(),
            )
        })?;
        let platform = match &self.request.platform {
            Some(platform) => platform.clone(),
            None => plan::platform_for(&targets.architecture)
                .map_err(Failure::Refused)?
                .to_owned(),
        };

        let candidate = match &self.request.source {
            Source::Build {
                context_dir,
                dockerfile,
                build_args,
            } => {
                self.build_and_push(&repository, &platform, context_dir, dockerfile, build_args)
                    .await?
            }
            Source::Digest(digest) => self.existing_image(&repository, digest).await?,
        };
        let Some(candidate) = candidate else {
            return Ok(()); // a dry run that must build first
        };
        self.digest = Some(candidate.clone());

        self.report(Step::Gate, StepStatus::Running, "");
        let previous = match plan::gate(&candidate, &function) {
            Gate::UpToDate => {
                self.previous.clone_from(&self.digest);
                self.report(
                    Step::Gate,
                    StepStatus::Done,
                    format!("the function already runs {}", candidate.short()),
                );
                self.report(Step::Update, StepStatus::Skipped, "up to date");
                self.action = DeployAction::UpToDate;
                if self.request.dry_run {
                    self.report(Step::Record, StepStatus::Skipped, "dry run");
                    return Ok(());
                }
                return self.repair_record(&bucket, &candidate).await;
            }
            Gate::Update { previous } => previous,
        };
        self.previous.clone_from(&previous);
        let from = previous
            .as_ref()
            .map_or("nothing readable".to_owned(), |d| d.short().to_owned());
        self.report(
            Step::Gate,
            StepStatus::Done,
            format!("{from} → {}", candidate.short()),
        );
        if self.request.dry_run {
            self.report(Step::Update, StepStatus::Skipped, "dry run");
            self.report(Step::Record, StepStatus::Skipped, "dry run");
            self.action = DeployAction::Planned;
            return Ok(());
        }
        if let Some(approval) = self.approval.take() {
            let asked = Event::AwaitingApproval {
                from: previous.clone(),
                to: candidate.clone(),
            };
            let _ = self.events.send(asked);
            // A dropped sender (the console closed) declines: nothing changes unasked.
            if !self.guard(approval).await?.unwrap_or(false) {
                self.report(Step::Update, StepStatus::Skipped, "declined");
                self.report(Step::Record, StepStatus::Skipped, "declined");
                return Err(Failure::Declined);
            }
        }

        let repository_uri = self
            .guard(self.clients.repository_uri(&repository))
            .await??;
        self.update(&format!("{repository_uri}@{candidate}"), &candidate)
            .await?;
        self.record(&bucket, &candidate).await?;
        self.action = match self.request.source {
            Source::Build { .. } => DeployAction::Deployed,
            Source::Digest(_) => DeployAction::RolledBack,
        };
        Ok(())
    }

    /// Reads the function until no other change is in flight (K04, K05).
    async fn wait_until_ready(&mut self) -> Result<FunctionInfo, Failure> {
        let name = &self.request.settings.function;
        let deadline = Instant::now() + READY_DEADLINE;
        let mut delays = backoff(Duration::from_secs(1), Duration::from_secs(10));
        loop {
            let function = self.guard(self.clients.get_function(name)).await??;
            match plan::readiness(&function) {
                Readiness::Ready => return Ok(function),
                Readiness::Failed(reason) => return Err(Failure::Refused(reason)),
                Readiness::Wait(reason) if Instant::now() < deadline => {
                    self.log(Step::Fingerprint, &format!("waiting: {reason}"));
                    let delay = delays.next().unwrap_or(Duration::from_secs(10));
                    self.guard(tokio::time::sleep(delay)).await?;
                }
                Readiness::Wait(reason) => {
                    return Err(Failure::Refused(format!(
                        "gave up after {} s: {reason} (state {}, last update {})",
                        READY_DEADLINE.as_secs(),
                        function.state,
                        function.last_update_status
                    )));
                }
            }
        }
    }

    async fn existing_image(
        &mut self,
        repository: &str,
        digest: &Digest,
    ) -> Result<Option<Digest>, Failure> {
        self.report(
            Step::Fingerprint,
            StepStatus::Skipped,
            "deploying an existing image",
        );
        self.report(
            Step::Build,
            StepStatus::Skipped,
            "deploying an existing image",
        );
        self.report(Step::Push, StepStatus::Running, "");
        let found = self
            .guard(
                self.clients
                    .find_image(repository, &ImageId::Digest(digest.clone())),
            )
            .await??;
        let Some(image) = found else {
            return Err(Failure::Refused(format!(
                "ECR repository {repository} has no image {digest}; `lambdactl images` lists them"
            )));
        };
        plan::check_manifest_media_type(image.media_type.as_deref()).map_err(Failure::Refused)?;
        self.report(Step::Push, StepStatus::Skipped, "already in ECR");
        Ok(Some(digest.clone()))
    }

    async fn build_and_push(
        &mut self,
        repository: &str,
        platform: &str,
        context_dir: &std::path::Path,
        dockerfile: &std::path::Path,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Option<Digest>, Failure> {
        self.report(Step::Fingerprint, StepStatus::Running, "");
        let context = BuildContext::scan(context_dir, dockerfile)
            .map_err(|e| Failure::Refused(e.to_string()))?;
        let inputs = BuildInputs {
            build_args: build_args.clone(),
            platform: platform.to_owned(),
        };
        let fingerprint =
            fingerprint(&context, &inputs).map_err(|e| Failure::Refused(e.to_string()))?;
        self.fingerprint = Some(fingerprint.clone());
        let size = humansize::format_size(context.size(), humansize::BINARY);
        let summary = format!(
            "{} · {} files, {size} of context",
            fingerprint.short(),
            context.files.len()
        );
        self.report(Step::Fingerprint, StepStatus::Done, summary);

        let tag = plan::fingerprint_tag(&fingerprint);
        let existing = self
            .guard(
                self.clients
                    .find_image(repository, &ImageId::Tag(tag.clone())),
            )
            .await??;
        if let Some(image) = existing {
            plan::check_manifest_media_type(image.media_type.as_deref())
                .map_err(Failure::Refused)?;
            let detail = format!("ECR has {} for this fingerprint", image.digest.short());
            self.report(Step::Build, StepStatus::Skipped, detail.clone());
            self.report(Step::Push, StepStatus::Skipped, detail);
            return Ok(Some(image.digest));
        }
        if self.request.dry_run {
            self.report(
                Step::Build,
                StepStatus::Skipped,
                format!("dry run: would build {tag} for {platform}"),
            );
            self.report(Step::Push, StepStatus::Skipped, "dry run: would push");
            self.report(
                Step::Gate,
                StepStatus::Skipped,
                "dry run: decided after the push",
            );
            self.report(Step::Update, StepStatus::Skipped, "dry run");
            self.report(Step::Record, StepStatus::Skipped, "dry run");
            self.action = DeployAction::Planned;
            return Ok(None);
        }

        let registry = self.registry_host(repository).await?;
        let name = format!("{registry}/{repository}");
        let reference = format!("{name}:{tag}");
        let docker = self.guard(DockerClient::connect()).await??;
        let tar = context.tar().map_err(|e| Failure::Refused(e.to_string()))?;
        let build = BuildRequest {
            context_tar: tar,
            dockerfile: context.dockerfile.clone(),
            tag: reference.clone(),
            platform: platform.to_owned(),
            build_args: build_args.clone().into_iter().collect(),
            labels: HashMap::from([(FINGERPRINT_LABEL.to_owned(), fingerprint.to_string())]),
        };
        self.build(&docker, build, &size).await?;

        self.report(Step::Push, StepStatus::Running, reference.clone());
        let digest = self.push(&docker, &name, &tag).await?;
        let image = self.confirm_in_ecr(repository, &digest).await?;
        plan::check_manifest_media_type(image.media_type.as_deref()).map_err(Failure::Refused)?;
        self.report(
            Step::Push,
            StepStatus::Done,
            format!("{} in ECR", digest.short()),
        );
        Ok(Some(digest))
    }

    /// Builds, streaming the log, and refuses an image for another CPU than the function's.
    async fn build(
        &mut self,
        docker: &DockerClient,
        request: BuildRequest,
        size: &str,
    ) -> Result<(), Failure> {
        let detail = format!(
            "{} for {}, {size} of context",
            request.tag, request.platform
        );
        self.report(Step::Build, StepStatus::Running, detail);
        let (reference, platform) = (request.tag.clone(), request.platform.clone());
        let events = self.events.clone();
        let mut on_log = move |line: &str| {
            let _ = events.send(Event::Log {
                step: Step::Build,
                line: line.to_owned(),
            });
        };
        self.guard(docker.build(request, &mut on_log))
            .await?
            .map_err(with_base_image_hint)?;
        let facts = self.guard(docker.inspect(&reference)).await??;
        plan::check_architecture(&platform, &facts.os, &facts.architecture)
            .map_err(Failure::Refused)?;
        let built = format!(
            "{} for {}/{}",
            short_id(&facts.id),
            facts.os,
            facts.architecture
        );
        self.report(Step::Build, StepStatus::Done, built);
        Ok(())
    }

    /// The registry to push to: the repository URI's host, as ECR serves it, unless the
    /// settings name another (the sandbox's registry on loopback).
    async fn registry_host(&self, repository: &str) -> Result<String, Failure> {
        if let Some(registry) = &self.request.settings.registry {
            return Ok(registry.clone());
        }
        let uri = self
            .guard(self.clients.repository_uri(repository))
            .await??;
        Ok(uri.split('/').next().unwrap_or_default().to_owned())
    }

    /// Pushes with a fresh token; a refused login gets one more try with another fresh token,
    /// since a console left open overnight holds an expired one (K08).
    async fn push(&self, docker: &DockerClient, name: &str, tag: &str) -> Result<Digest, Failure> {
        let mut layers = PushLayers::default();
        for attempt in 0..2 {
            let login = self.guard(self.clients.registry_login()).await??;
            let events = self.events.clone();
            let mut on_progress = |progress: crate::docker::PushProgress| {
                if let Some(event) = layers.update(&progress) {
                    let _ = events.send(event);
                }
            };
            match self
                .guard(docker.push(name, tag, &login, &mut on_progress))
                .await?
            {
                Ok(digest) => return Ok(digest),
                Err(DockerError::Unauthorized { .. }) if attempt == 0 => {
                    self.log(
                        Step::Push,
                        "the registry refused the login; retrying once with a fresh token",
                    );
                }
                Err(DockerError::Failed { doing, message }) => {
                    let message = format!(
                        "{message}; check the registry (--registry or LAMBDACTL_REGISTRY), which \
                         must be the one ECR serves"
                    );
                    return Err(DockerError::Failed { doing, message }.into());
                }
                Err(error) => return Err(error.into()),
            }
        }
        unreachable!("the second attempt returns")
    }

    /// Waits until ECR lists the pushed digest.
    async fn confirm_in_ecr(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> Result<crate::model::ImageInfo, Failure> {
        let deadline = Instant::now() + ECR_DEADLINE;
        let mut delays = backoff(Duration::from_millis(50), Duration::from_secs(2));
        loop {
            let id = ImageId::Digest(digest.clone());
            if let Some(image) = self
                .guard(self.clients.find_image(repository, &id))
                .await??
            {
                return Ok(image);
            }
            if Instant::now() >= deadline {
                return Err(Failure::Refused(format!(
                    "the registry took {digest}, but ECR repository {repository} does not list it \
                     after {} s; is --registry (or LAMBDACTL_REGISTRY) the registry ECR serves?",
                    ECR_DEADLINE.as_secs()
                )));
            }
            self.guard(tokio::time::sleep(
                delays.next().unwrap_or(Duration::from_secs(2)),
            ))
            .await?;
        }
    }

    /// Updates by digest with the function's revision id, retrying while another change holds
    /// the function (409), then waits for Lambda to finish and checks what it now runs.
    async fn update(&mut self, image_uri: &str, candidate: &Digest) -> Result<(), Failure> {
        let name = self.request.settings.function.clone();
        self.report(Step::Update, StepStatus::Running, image_uri.to_owned());
        let mut delays = backoff(Duration::from_secs(1), Duration::from_secs(15));
        loop {
            let function = self.wait_until_ready().await?;
            let revision = function.revision_id.as_deref();
            match self
                .guard(
                    self.clients
                        .update_function_image(&name, image_uri, revision),
                )
                .await?
            {
                Ok(()) => break,
                Err(error)
                    if error.is_conflict()
                        || error.code.as_deref() == Some("PreconditionFailedException") =>
                {
                    let Some(delay) = delays.next() else {
                        return Err(error.into());
                    };
                    self.log(
                        Step::Update,
                        &format!("{error}; trying again in {} ms", delay.as_millis()),
                    );
                    self.guard(tokio::time::sleep(delay)).await?;
                }
                Err(error) => return Err(error.into()),
            }
        }

        let deadline = Instant::now() + READY_DEADLINE;
        let mut delays = backoff(Duration::from_millis(500), Duration::from_secs(5));
        let function = loop {
            let function = self.guard(self.clients.get_function(&name)).await??;
            match plan::update_outcome(&function) {
                UpdateOutcome::Successful => break function,
                UpdateOutcome::Failed(reason) => return Err(Failure::Refused(reason)),
                UpdateOutcome::InProgress if Instant::now() < deadline => {
                    self.guard(tokio::time::sleep(
                        delays.next().unwrap_or(Duration::from_secs(5)),
                    ))
                    .await?;
                }
                UpdateOutcome::InProgress => {
                    return Err(Failure::Refused(format!(
                        "the update did not finish within {} s (last update status {})",
                        READY_DEADLINE.as_secs(),
                        function.last_update_status
                    )));
                }
            }
        };
        match function.deployed_digest() {
            Some(running) if &running == candidate => {
                self.report(
                    Step::Update,
                    StepStatus::Done,
                    format!("the function runs {}", candidate.short()),
                );
                Ok(())
            }
            running => Err(Failure::Refused(format!(
                "after the update the function runs {}, not {candidate}",
                running.map_or("no readable digest".to_owned(), |d| d.to_string())
            ))),
        }
    }

    /// When the function already runs the candidate but the digest file says otherwise (someone
    /// changed the function outside lambdactl), the file is corrected: the function runs this
    /// digest, so recording it is true. No history entry is written, since nothing was deployed.
    async fn repair_record(&mut self, bucket: &str, digest: &Digest) -> Result<(), Failure> {
        let recorded = self.guard(self.clients.recorded_digest(bucket)).await??;
        if recorded.as_ref() == Some(digest) {
            self.report(Step::Record, StepStatus::Skipped, "up to date");
            return Ok(());
        }
        self.report(Step::Record, StepStatus::Running, "");
        let body = format!("{digest}\n");
        self.guard(
            self.clients
                .put_text(bucket, DIGEST_KEY, body, "text/plain"),
        )
        .await??;
        let was = recorded.map_or("nothing".to_owned(), |d| d.short().to_owned());
        let detail = format!("corrected the digest file: it said {was}");
        self.report(Step::Record, StepStatus::Done, detail);
        Ok(())
    }

    async fn record(&mut self, bucket: &str, digest: &Digest) -> Result<(), Failure> {
        self.report(Step::Record, StepStatus::Running, "");
        let record = DeployRecord {
            time: chrono::Utc::now(),
            function: self.request.settings.function.clone(),
            digest: digest.clone(),
            previous_digest: self.previous.clone(),
            fingerprint: self.fingerprint.clone(),
            action: match self.request.source {
                Source::Build { .. } => "deployed",
                Source::Digest(_) => "rolled_back",
            },
            user: std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()),
            host: hostname(),
        };
        let history = serde_json::to_string_pretty(&record).expect("the record serializes");
        // The history first: a digest file that names a deploy the history lacks would be worse
        // than a history entry whose digest file write failed, which the next deploy repairs.
        self.guard(
            self.clients
                .put_text(bucket, &record.key(), history, "application/json"),
        )
        .await??;
        self.guard(
            self.clients
                .put_text(bucket, DIGEST_KEY, format!("{digest}\n"), "text/plain"),
        )
        .await??;
        self.report(
            Step::Record,
            StepStatus::Done,
            format!("s3://{bucket}/{DIGEST_KEY}"),
        );
        Ok(())
    }
}

/// A build that failed while fetching its base image says how to name another one: a bastion
/// without internet, or a private mirror, needs `BASE_IMAGE`.
fn with_base_image_hint(error: DockerError) -> DockerError {
    match error {
        DockerError::Failed { doing, message } => {
            let fetching = [
                "pull access denied",
                "no such host",
                "dial tcp",
                "manifest unknown",
                "TLS handshake",
            ]
            .iter()
            .any(|sign| message.contains(sign));
            let message = if fetching {
                format!(
                    "{message}; the base image could not be fetched: name one the engine has or can \
                     reach with --build-arg BASE_IMAGE=… or build_args in lambdactl.toml"
                )
            } else {
                message
            };
            DockerError::Failed { doing, message }
        }
        other => other,
    }
}

/// Exponential delays with jitter, as many as make sense for a few minutes of waiting.
fn backoff(first: Duration, most: Duration) -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(first)
        .with_max_delay(most)
        .with_jitter()
        .with_max_times(12)
        .build()
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

/// Turns the engine's push lines into overall progress: finished layers of all, and the bytes of
/// the upload under way.
// TODO: The engine sends each layer's id with its progress lines, but bollard's `PushImageInfo`
// drops that field, so one gauge per layer cannot be drawn truthfully; it needs the field
// upstream or a raw read of the push stream.
#[derive(Debug, Default)]
struct PushLayers {
    total: u64,
    done: u64,
}

impl PushLayers {
    fn update(&mut self, progress: &crate::docker::PushProgress) -> Option<Event> {
        match progress.status.as_str() {
            "Preparing" => self.total += 1,
            "Pushed" | "Layer already exists" | "Mounted from" => self.done += 1,
            status if status.starts_with("Mounted from") => self.done += 1,
            "Pushing" => {
                let (current, total) = (progress.current?, progress.total?);
                return Some(Event::Progress {
                    step: Step::Push,
                    label: format!(
                        "layer {} of {}",
                        (self.done + 1).min(self.total.max(1)),
                        self.total
                    ),
                    current: u64::try_from(current).ok()?,
                    total: u64::try_from(total).ok()?,
                });
            }
            _ => return None,
        }
        Some(Event::Progress {
            step: Step::Push,
            label: "layers".to_owned(),
            current: self.done,
            total: self.total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::PushProgress;

    fn line(status: &str) -> PushProgress {
        PushProgress {
            status: status.into(),
            current: None,
            total: None,
        }
    }

    #[test]
    fn push_lines_count_finished_layers() {
        let mut layers = PushLayers::default();
        for status in ["Preparing", "Preparing", "Preparing", "Waiting"] {
            layers.update(&line(status));
        }
        layers.update(&line("Layer already exists"));
        let event = layers.update(&line("Pushed")).unwrap();
        assert_eq!(
            event,
            Event::Progress {
                step: Step::Push,
                label: "layers".into(),
                current: 2,
                total: 3
            }
        );
        let bytes = layers.update(&PushProgress {
            status: "Pushing".into(),
            current: Some(512),
            total: Some(2048),
        });
        assert!(matches!(
            bytes,
            Some(Event::Progress {
                current: 512,
                total: 2048,
                ..
            })
        ));
    }
}
