//! The command line: argument parsing, the subcommands and their output formats.
//!
//! Every console pane has a non-interactive twin here (`status`, `images`, `objects`, `logs`),
//! built on the same `aws` clients, so scripts see what the console shows.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use comfy_table::{Table, presets};
use serde::Serialize;

use crate::app::App;
use crate::aws::{AwsClients, Connection, EventQuery};
use crate::config::{CommandLine, Settings, Targets};
use crate::model::{
    Digest, FunctionInfo, ImageInfo, sort_images_newest_first, sort_objects_newest_first,
};
use crate::sandbox::{self, Health, Sandbox, UpOptions};
use crate::text::sanitize_line;
use crate::ui;

/// A keyboard-driven console for an AWS Lambda function shipped as a container image.
#[derive(Debug, Parser)]
#[command(name = "lambdactl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    target: TargetArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

/// Which function, and where to find it. Flags win over the environment, which wins over
/// `lambdactl.toml`, which wins over discovery from the function itself.
#[derive(Debug, Args)]
struct TargetArgs {
    /// The Lambda function to operate
    #[arg(long, short = 'f', global = true, env = "LAMBDACTL_FUNCTION")]
    function: Option<String>,
    /// The AWS region (default: the AWS chain: AWS_REGION, the profile)
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile (default: AWS_PROFILE, then `default`)
    #[arg(long, global = true)]
    profile: Option<String>,
    /// A custom AWS endpoint, such as the sandbox's (default: AWS_ENDPOINT_URL)
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// The configuration file (default: ./lambdactl.toml, then the user config folder)
    #[arg(long, global = true, env = "LAMBDACTL_CONFIG")]
    config: Option<PathBuf>,
    /// The ECR repository (default: from the function's image URI)
    #[arg(long, global = true)]
    repository: Option<String>,
    /// The S3 bucket (default: the function's S3_BUCKET_NAME variable)
    #[arg(long, global = true)]
    bucket: Option<String>,
    /// The CloudWatch log group (default: the function's logging config, or /aws/lambda/<name>)
    #[arg(long, global = true)]
    log_group: Option<String>,
    /// The build platform's architecture (default: the function's Architectures)
    #[arg(long, global = true)]
    architecture: Option<String>,
    /// The registry host to push to (default: the repository URI's host, as ECR serves it)
    #[arg(long, global = true, env = "LAMBDACTL_REGISTRY")]
    registry: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the built-in sandbox if needed and open the console on it
    Demo,
    /// The function's state and digests
    Status(OutputArgs),
    /// The images in the function's ECR repository
    Images(OutputArgs),
    /// The objects in the function's bucket
    Objects(OutputArgs),
    /// The function's log events
    Logs(LogsArgs),
    /// Build, push and deploy the function's image, only when it changed; or roll back
    Deploy(DeployArgs),
    /// Invoke the function once and show its response and log tail
    Invoke(InvokeArgs),
    /// Local stand-ins for AWS, seeded like a real deployment
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
}

#[derive(Debug, Args)]
struct OutputArgs {
    /// The output format
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Debug, Args)]
struct LogsArgs {
    /// How far back to read, e.g. 10m, 1h, 7d
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    since: std::time::Duration,
    /// A CloudWatch filter pattern, applied by the service
    #[arg(long)]
    filter: Option<String>,
    /// Keep polling for new events until Ctrl-C (JSON lines with --output json)
    #[arg(long, short = 'F')]
    follow: bool,
    #[command(flatten)]
    output: OutputArgs,
}

/// An invoke's event, read and checked while the command line is parsed, so a payload that is
/// not JSON is a usage error (exit 2) like any other bad argument.
#[derive(Debug, Clone)]
struct Payload {
    text: String,
    bytes: Vec<u8>,
}

fn read_payload(value: &str) -> Result<Payload, String> {
    let text = match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|error| format!("reading the payload from {path}: {error}"))?,
        None => value.to_owned(),
    };
    // An empty text is more likely an unset shell variable than a wish to send `{}`.
    if text.trim().is_empty() {
        return Err("the payload is empty; give a JSON text such as '{}', or @FILE".to_owned());
    }
    let bytes = crate::app::invoke::check_payload(&text)
        .map_err(|reason| format!("{reason}; give a JSON text or @FILE with JSON in it"))?;
    Ok(Payload { text, bytes })
}

#[derive(Debug, Args)]
struct InvokeArgs {
    /// The event: JSON text, or @FILE to read it from a file (default: {})
    #[arg(long, value_name = "JSON|@FILE", value_parser = read_payload)]
    payload: Option<Payload>,
    /// Queue the event and return at once (InvocationType Event); no response or log tail
    #[arg(long = "async")]
    asynchronous: bool,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Args)]
struct DeployArgs {
    /// Deploy this image from ECR instead of building (a rollback): a digest, a unique prefix of
    /// one (as lambdactl prints them), or a tag
    #[arg(long)]
    digest: Option<String>,
    /// Show what would happen and change nothing
    #[arg(long)]
    dry_run: bool,
    /// The build platform, e.g. linux/arm64 (default: from the function's Architectures)
    #[arg(long)]
    platform: Option<String>,
    /// The build context folder (default: .)
    #[arg(long)]
    context: Option<PathBuf>,
    /// The Dockerfile (default: docker/Dockerfile)
    #[arg(long)]
    dockerfile: Option<PathBuf>,
    /// A build argument, KEY=VALUE; may be repeated
    #[arg(long = "build-arg", value_parser = parse_build_arg)]
    build_args: Vec<(String, String)>,
    #[command(flatten)]
    output: OutputArgs,
}

fn parse_build_arg(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(key, _)| !key.is_empty())
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got {text:?}"))
}

#[derive(Debug, Subcommand)]
enum SandboxCommand {
    /// Start the stand-ins and seed them (does nothing when they already run)
    Up {
        /// The port for the AWS stand-in (default: a free one)
        #[arg(long)]
        port: Option<u16>,
    },
    /// Stop what `up` started
    Down,
    /// Whether the sandbox runs, and where
    Status(OutputArgs),
    /// Print `export` lines that point the AWS CLI and lambdactl at the sandbox
    Env,
    /// Registers the sandbox registry's pushes in the emulated ECR (started by `up`)
    #[command(hide = true)]
    Relay {
        #[arg(long)]
        port: u16,
        #[arg(long)]
        moto_port: u16,
        #[arg(long)]
        registry_port: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

/// The user interrupted the command (Ctrl-C); the process exits with 130, as shells expect.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// The command has printed what it had to say and ends with this exit status and no error
/// line: `sandbox status` exits 3 when the sandbox is not up, as `systemctl status` does for a
/// stopped unit, so a script can write `lambdactl sandbox status >/dev/null || lambdactl sandbox
/// up`.
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct QuietExit(pub u8);

/// The exit status of `sandbox status` when the sandbox is down or not seeded.
const SANDBOX_NOT_UP: u8 = 3;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command_line = command_line(cli.target);
    match cli.command {
        None => {
            let settings = Settings::load(command_line)?;
            let clients = connect(&settings, None).await?;
            open_console(settings, clients).await
        }
        Some(Command::Demo) => demo(command_line).await,
        Some(Command::Status(args)) => status(command_line, args.output).await,
        Some(Command::Images(args)) => images(command_line, args.output).await,
        Some(Command::Objects(args)) => objects(command_line, args.output).await,
        Some(Command::Logs(args)) => logs(command_line, &args).await,
        Some(Command::Invoke(args)) => invoke(command_line, &args).await,
        Some(Command::Deploy(args)) => {
            let command_line = CommandLine {
                context: args.context.clone(),
                dockerfile: args.dockerfile.clone(),
                build_args: args.build_args.iter().cloned().collect(),
                ..command_line
            };
            deploy::run(command_line, &args).await
        }
        Some(Command::Sandbox { command }) => sandbox_command(command).await,
    }
}

fn command_line(target: TargetArgs) -> CommandLine {
    CommandLine {
        registry: target.registry,
        config_file: target.config,
        function: target.function,
        region: target.region,
        profile: target.profile,
        endpoint_url: target.endpoint_url,
        repository: target.repository,
        bucket: target.bucket,
        log_group: target.log_group,
        architecture: target.architecture,
        ..CommandLine::default()
    }
}

/// Builds the clients and resolves credentials before anything else runs.
async fn connect(
    settings: &Settings,
    static_keys: Option<(String, String)>,
) -> anyhow::Result<AwsClients> {
    let connection = Connection {
        region: settings.region.clone(),
        profile: settings.profile.clone(),
        endpoint_url: settings.endpoint_url.clone(),
        static_keys,
    };
    let endpoint = connection
        .endpoint_url
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    if let Some(endpoint) =
        endpoint.filter(|e| !e.starts_with("http://") && !e.starts_with("https://"))
    {
        bail!(
            "the endpoint {endpoint:?} is not a URL: write it with its scheme, e.g. http://127.0.0.1:4566"
        );
    }
    let clients = AwsClients::connect(&connection).await;
    clients
        .check_credentials(settings.profile.as_deref())
        .await?;
    Ok(clients)
}

async fn open_console(settings: Settings, clients: AwsClients) -> anyhow::Result<()> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the console needs a terminal; for scripts use a subcommand (status, images, \
             objects, logs, invoke, deploy) with --output json"
        );
    }
    let keymap = ui::keymap::Keymap::with_overrides(&settings.keys).map_err(|error| {
        let file = settings
            .source_file
            .as_ref()
            .map_or_else(String::new, |path| format!("{}: ", path.display()));
        anyhow::anyhow!("{file}[keys]: {error}")
    })?;
    let app = App::new(
        settings,
        clients.region().map(str::to_owned),
        clients.endpoint_url().map(str::to_owned),
    );
    ui::run(app, clients, keymap).await
}

async fn demo(command_line: CommandLine) -> anyhow::Result<()> {
    let sandbox = Sandbox::from_env()?;
    let state = sandbox
        .up(&UpOptions::default(), &mut print_progress)
        .await?;
    // The demo always talks to the sandbox, whatever the shell's AWS settings say.
    let settings = Settings {
        region: Some(sandbox::REGION.to_owned()),
        endpoint_url: Some(state.endpoint()),
        profile: None,
        registry: state.registry.as_ref().map(sandbox::RegistryState::address),
        ..Settings::load(command_line)?
    };
    let keys = (
        sandbox::ACCESS_KEY_ID.to_owned(),
        sandbox::SECRET_ACCESS_KEY.to_owned(),
    );
    let clients = connect(&settings, Some(keys)).await?;
    open_console(settings, clients).await?;
    eprintln!(
        "the sandbox keeps running at {}; `lambdactl sandbox down` stops it",
        state.endpoint()
    );
    Ok(())
}

fn print_progress(line: &str) {
    eprintln!("{}", sanitize_line(line));
}

/// The function and where its parts live, as every twin needs them.
struct Resolved {
    clients: AwsClients,
    function: FunctionInfo,
    targets: Targets,
}

async fn resolve(command_line: CommandLine) -> anyhow::Result<Resolved> {
    let settings = Settings::load(command_line)?;
    let clients = connect(&settings, None).await?;
    let function = clients
        .get_function(&settings.function)
        .await
        .map_err(|error| {
            if error.is_not_found() {
                anyhow::anyhow!(
                    "{error}; check the function's name and region, set with --function (or \
                     LAMBDACTL_FUNCTION, or `function` in lambdactl.toml) and --region"
                )
            } else {
                error.into()
            }
        })?;
    let targets = Targets::discover(&settings, &function);
    Ok(Resolved {
        clients,
        function,
        targets,
    })
}

/// Reads the recorded digest, warning instead of failing: the twins still have an answer
/// without it.
async fn recorded_digest(resolved: &Resolved) -> Option<Digest> {
    let bucket = resolved.targets.bucket.as_deref()?;
    match resolved.clients.recorded_digest(bucket).await {
        Ok(digest) => digest,
        Err(error) => {
            eprintln!("warning: {}", sanitize_line(&error.to_string()));
            None
        }
    }
}

fn require<'a>(value: Option<&'a String>, what: &str, flag: &str) -> anyhow::Result<&'a str> {
    match value {
        Some(value) => Ok(value),
        None => {
            bail!("no {what} is known for this function; pass {flag} or set it in lambdactl.toml")
        }
    }
}

#[derive(Serialize)]
struct StatusReport {
    function: String,
    region: Option<String>,
    endpoint: Option<String>,
    state: String,
    last_update_status: String,
    image_uri: Option<String>,
    deployed_digest: Option<Digest>,
    recorded_digest: Option<Digest>,
    repository: Option<String>,
    bucket: Option<String>,
    log_group: String,
    architecture: String,
}

async fn status(command_line: CommandLine, output: Output) -> anyhow::Result<()> {
    let resolved = resolve(command_line).await?;
    let recorded = recorded_digest(&resolved).await;
    let Resolved {
        clients,
        function,
        targets,
        ..
    } = resolved;
    let report = StatusReport {
        function: function.name.clone(),
        region: clients.region().map(str::to_owned),
        endpoint: clients.endpoint_url().map(str::to_owned),
        state: function.state.clone(),
        last_update_status: function.last_update_status.clone(),
        image_uri: function.image_uri.clone(),
        deployed_digest: function.deployed_digest(),
        recorded_digest: recorded,
        repository: targets.repository,
        bucket: targets.bucket,
        log_group: targets.log_group,
        architecture: targets.architecture,
    };
    if output == Output::Json {
        return print_json(&report);
    }
    let text = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    let digest = |value: &Option<Digest>| text(value.as_ref().map(ToString::to_string));
    let mut table = plain_table(&[]);
    for (name, value) in [
        ("function", report.function),
        ("region", text(report.region)),
        ("endpoint", text(report.endpoint)),
        ("state", report.state),
        ("last update", report.last_update_status),
        ("image uri", text(report.image_uri)),
        ("deployed digest", digest(&report.deployed_digest)),
        ("recorded digest", digest(&report.recorded_digest)),
        ("repository", text(report.repository)),
        ("bucket", text(report.bucket)),
        ("log group", report.log_group),
        ("architecture", report.architecture),
    ] {
        table.add_row(vec![name.to_owned(), sanitize_line(&value)]);
    }
    print_table(&table)
}

#[derive(Serialize)]
struct ImageRow {
    #[serde(flatten)]
    image: ImageInfo,
    deployed: bool,
    recorded: bool,
}

async fn images(command_line: CommandLine, output: Output) -> anyhow::Result<()> {
    let resolved = resolve(command_line).await?;
    let repository = require(
        resolved.targets.repository.as_ref(),
        "ECR repository",
        "--repository",
    )?;
    let mut images = resolved.clients.list_images(repository).await?;
    sort_images_newest_first(&mut images);
    let deployed = resolved.function.deployed_digest();
    let recorded = recorded_digest(&resolved).await;
    let rows: Vec<ImageRow> = images
        .into_iter()
        .map(|image| ImageRow {
            deployed: deployed.as_ref() == Some(&image.digest),
            recorded: recorded.as_ref() == Some(&image.digest),
            image,
        })
        .collect();
    if output == Output::Json {
        return print_json(&rows);
    }
    let mut table = plain_table(&["DIGEST", "TAGS", "PUSHED", "SIZE", "MEDIA TYPE", "STATE"]);
    for row in &rows {
        let state: Vec<&str> = [
            row.deployed.then_some("deployed"),
            row.recorded.then_some("recorded"),
        ]
        .into_iter()
        .flatten()
        .collect();
        table.add_row(vec![
            row.image.digest.to_string(),
            sanitize_line(&row.image.tags.join(",")),
            row.image
                .pushed_at
                .map(|at| at.to_rfc3339())
                .unwrap_or_default(),
            row.image
                .size_bytes
                .map(|size| size.to_string())
                .unwrap_or_default(),
            sanitize_line(row.image.media_type.as_deref().unwrap_or_default()),
            state.join(","),
        ]);
    }
    print_table(&table)
}

async fn objects(command_line: CommandLine, output: Output) -> anyhow::Result<()> {
    let resolved = resolve(command_line).await?;
    let bucket = require(resolved.targets.bucket.as_ref(), "S3 bucket", "--bucket")?;
    let mut objects = resolved.clients.list_objects(bucket).await?;
    sort_objects_newest_first(&mut objects);
    if output == Output::Json {
        return print_json(&objects);
    }
    let mut table = plain_table(&["KEY", "SIZE", "LAST MODIFIED", "ETAG"]);
    for object in &objects {
        table.add_row(vec![
            sanitize_line(&object.key),
            object.size_bytes.to_string(),
            object
                .last_modified
                .map(|at| at.to_rfc3339())
                .unwrap_or_default(),
            sanitize_line(object.etag.as_deref().unwrap_or_default()),
        ]);
    }
    print_table(&table)
}

async fn logs(command_line: CommandLine, args: &LogsArgs) -> anyhow::Result<()> {
    let resolved = resolve(command_line).await?;
    let since = chrono::Duration::from_std(args.since).context("--since is too far back")?;
    let since = chrono::Utc::now() - since;
    if args.follow {
        return follow_logs(&resolved, since, args).await;
    }
    let query = EventQuery {
        since: Some(since),
        filter_pattern: args.filter.clone(),
        ..EventQuery::default()
    };
    let events = resolved
        .clients
        .filter_events(&resolved.targets.log_group, &query)
        .await?;
    if args.output.output == Output::Json {
        return print_json(&events);
    }
    let mut out = std::io::stdout().lock();
    for event in &events {
        write_event_line(&mut out, event)?;
    }
    Ok(())
}

async fn invoke(command_line: CommandLine, args: &InvokeArgs) -> anyhow::Result<()> {
    use crate::app::invoke::{InvokeReport, client_timeout};

    let (text, payload) = match &args.payload {
        Some(payload) => (payload.text.clone(), payload.bytes.clone()),
        None => ("{}".to_owned(), b"{}".to_vec()),
    };
    let resolved = resolve(command_line).await?;
    let name = resolved.function.name.clone();
    let function = wait_until_invocable(&resolved.clients, resolved.function.clone()).await?;

    let timeout = client_timeout(&function);
    let started = std::time::Instant::now();
    let outcome = resolved
        .clients
        .invoke(&name, payload, args.asynchronous, timeout)
        .await?;
    let round_trip = started.elapsed();
    // The console's Ctrl-R offers what was sent from the shell too.
    if let Some(Err(error)) = crate::app::history::folder()
        .map(|folder| crate::app::history::remember(&folder, &name, &text))
    {
        tracing::warn!(%error, "could not save the payload history");
    }
    let report = InvokeReport::from_outcome(outcome);
    if args.output.output == Output::Json {
        print_json(&report)?;
    } else {
        let mut out = std::io::stdout().lock();
        let version = report.executed_version.as_deref().unwrap_or("-");
        let request = report.request_id.as_deref().unwrap_or("-");
        writeln!(
            out,
            "status {}  version {version}  round trip {} ms  request id {request}",
            report.status_code,
            round_trip.as_millis()
        )?;
        if let Some(execution) = &report.report {
            writeln!(out, "{}", execution.summary())?;
        }
        let pretty = serde_json::to_string_pretty(&report.payload)?;
        for line in pretty.lines() {
            writeln!(out, "{}", sanitize_line(line))?;
        }
        if let Some(tail) = &report.log_tail {
            writeln!(out, "--- log tail")?;
            for line in tail.lines() {
                writeln!(out, "{}", sanitize_line(line))?;
            }
        }
    }
    match report.failure() {
        Some(failure) => {
            if !failure.stack_trace.is_empty() {
                eprintln!("stack trace:");
            }
            for frame in &failure.stack_trace {
                eprintln!("{}", sanitize_line(frame));
            }
            bail!(
                "the function failed ({}): {}: {}",
                report.function_error.as_deref().unwrap_or("error"),
                sanitize_line(&failure.error_type),
                sanitize_line(&failure.message)
            )
        }
        None => Ok(()),
    }
}

/// Waits while the function is being created or woken (K05), saying so; refuses a function
/// that failed, since an invoke would only fail too.
async fn wait_until_invocable(
    clients: &AwsClients,
    mut function: FunctionInfo,
) -> anyhow::Result<FunctionInfo> {
    use crate::app::invoke::{InvokeReadiness, invoke_readiness};

    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(5);
    loop {
        match invoke_readiness(&function) {
            InvokeReadiness::Ready => return Ok(function),
            InvokeReadiness::Failed(reason) => bail!("not invoking: {reason}"),
            InvokeReadiness::Waking(reason) if std::time::Instant::now() < deadline => {
                eprintln!("waking: {reason}; waiting");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                function = clients.get_function(&function.name).await?;
            }
            InvokeReadiness::Waking(reason) => bail!("gave up after 5 minutes: {reason}"),
        }
    }
}

fn write_event_line(out: &mut impl Write, event: &crate::model::LogEvent) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  {}  {}",
        event.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        sanitize_line(&event.stream),
        sanitize_line(&event.message)
    )
}

/// Follows until Ctrl-C (live tail where offered, else polling), printing each event once (JSON
/// lines with `--output json`). Throttling and other failures slow the poll down and say so on
/// stderr, as do the follower's notes; they never end the tail.
async fn follow_logs(
    resolved: &Resolved,
    since: chrono::DateTime<chrono::Utc>,
    args: &LogsArgs,
) -> anyhow::Result<()> {
    use std::ops::ControlFlow;

    use crate::app::tail::{TailUpdate, follow};

    let json = args.output.output == Output::Json;
    let mut failure: Option<std::io::Error> = None;
    let print = |update: TailUpdate| match update {
        TailUpdate::Events(events) => {
            let mut out = std::io::stdout().lock();
            let written = events.iter().try_for_each(|event| {
                if json {
                    serde_json::to_writer(&mut out, event)?;
                    writeln!(out)
                } else {
                    write_event_line(&mut out, event)
                }
            });
            match written.and_then(|()| out.flush()) {
                Ok(()) => ControlFlow::Continue(()),
                Err(error) => {
                    failure = Some(error);
                    ControlFlow::Break(())
                }
            }
        }
        TailUpdate::Waiting {
            throttled,
            retry_in,
            reason,
        } => {
            let what = if throttled { "throttled" } else { "failed" };
            let seconds = retry_in.as_secs_f64();
            eprintln!(
                "{what}, retrying in {seconds:.1} s: {}",
                sanitize_line(&reason)
            );
            ControlFlow::Continue(())
        }
        TailUpdate::Note(note) => {
            eprintln!("{}", sanitize_line(&note));
            ControlFlow::Continue(())
        }
    };
    let tail = follow(
        &resolved.clients,
        &resolved.targets.log_group,
        args.filter.clone(),
        since,
        print,
    );
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = tail => {}
    }
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

mod deploy {
    //! `lambdactl deploy`: the pipeline with progress bars on a terminal, plain lines otherwise.

    use std::collections::HashMap;
    use std::io::IsTerminal;
    use std::time::Duration;

    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::{CommandLine, DeployArgs, Output, Settings, connect, print_json};
    use crate::pipeline::plan::{Step, StepStatus};
    use crate::pipeline::run::{self, DeployAction, DeployRequest, Event, Source};
    use crate::text::sanitize_line;

    /// Finds the one image a `--digest` value names: a full digest as it is, else a unique digest
    /// prefix (with or without `sha256:`) or a tag among the repository's images.
    async fn resolve_image(
        clients: &crate::aws::AwsClients,
        settings: &Settings,
        reference: &str,
    ) -> anyhow::Result<crate::model::Digest> {
        if let Ok(digest) = reference.parse() {
            return Ok(digest);
        }
        let function = clients.get_function(&settings.function).await?;
        let targets = crate::config::Targets::discover(settings, &function);
        let Some(repository) = targets.repository else {
            anyhow::bail!("no ECR repository is known for this function; pass --repository");
        };
        let images = clients.list_images(&repository).await?;
        let prefix = reference
            .strip_prefix("sha256:")
            .unwrap_or(reference)
            .to_ascii_lowercase();
        let matches: Vec<_> = images
            .iter()
            .filter(|image| {
                image.tags.iter().any(|tag| tag == reference)
                    || image.digest.hex().starts_with(&prefix)
            })
            .collect();
        match matches.as_slice() {
            [image] => Ok(image.digest.clone()),
            [] => anyhow::bail!(
                "no image in {repository} has the tag or digest {reference:?}; `lambdactl images` lists them"
            ),
            _ => anyhow::bail!(
                "{reference:?} names {} images in {repository}; give more of the digest",
                matches.len()
            ),
        }
    }

    pub async fn run(command_line: CommandLine, args: &DeployArgs) -> anyhow::Result<()> {
        let settings = Settings::load(command_line)?;
        let clients = connect(&settings, None).await?;
        let source = match &args.digest {
            Some(reference) => Source::Digest(resolve_image(&clients, &settings, reference).await?),
            None => Source::Build {
                context_dir: settings.context.clone(),
                dockerfile: settings.dockerfile.clone(),
                build_args: settings.build_args.clone(),
            },
        };
        let request = DeployRequest {
            settings,
            source,
            platform: args.platform.clone(),
            dry_run: args.dry_run,
        };

        let (sender, events) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let on_interrupt = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_interrupt.cancel();
            }
        });
        let bars = std::io::stderr().is_terminal() && args.output.output == Output::Table;
        let watcher = tokio::spawn(show_progress(events, bars));
        let report = run::deploy(&clients, &request, &sender, &cancel).await;
        drop(sender);
        let _ = watcher.await;

        if args.output.output == Output::Json {
            print_json(&report)?;
        } else {
            let digest = report
                .digest
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string);
            let summary = match report.action {
                DeployAction::Deployed => format!("deployed {digest}"),
                DeployAction::RolledBack => format!("rolled back to {digest}"),
                DeployAction::UpToDate => format!("up to date: the function already runs {digest}"),
                DeployAction::Planned => "dry run: nothing was changed".to_owned(),
                DeployAction::Declined => "declined: nothing was changed".to_owned(),
                DeployAction::Cancelled => "cancelled: nothing was recorded".to_owned(),
                DeployAction::Failed => "failed: nothing was recorded".to_owned(),
            };
            println!("{summary}");
        }
        match (report.action, report.error) {
            (DeployAction::Cancelled, _) => Err(super::Interrupted.into()),
            (_, Some(error)) => anyhow::bail!("deploy failed: {error}"),
            (_, None) => Ok(()),
        }
    }

    /// Prints the pipeline's events: one bar per step (and one for the push's bytes) on a
    /// terminal, one line per change elsewhere, so logs of CI runs stay readable.
    async fn show_progress(mut events: mpsc::UnboundedReceiver<Event>, bars: bool) {
        let multi = MultiProgress::with_draw_target(if bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let step_style = ProgressStyle::with_template("{spinner} {prefix:>11} {wide_msg}")
            .expect("a valid template");
        let bytes_style =
            ProgressStyle::with_template("  {prefix:>11} [{bar:30}] {bytes}/{total_bytes} {msg}")
                .expect("a valid template")
                .progress_chars("=> ");
        let mut step_bars: HashMap<Step, ProgressBar> = HashMap::new();
        let mut push_bar: Option<ProgressBar> = None;
        while let Some(event) = events.recv().await {
            match event {
                Event::Step {
                    step,
                    status,
                    detail,
                } => {
                    let detail = sanitize_line(&detail);
                    if !bars {
                        eprintln!("[{}] {} {detail}", step.name(), status.label());
                        continue;
                    }
                    let bar = step_bars.entry(step).or_insert_with(|| {
                        let bar =
                            multi.add(ProgressBar::new_spinner().with_style(step_style.clone()));
                        bar.set_prefix(step.name());
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar
                    });
                    bar.set_message(format!("{} {detail}", status.label()));
                    if status != StepStatus::Running {
                        bar.finish();
                        if let Some(bytes) = push_bar.take_if(|_| step == Step::Push) {
                            bytes.finish_and_clear();
                        }
                    }
                }
                Event::Log { step, line } => {
                    let line = sanitize_line(&line);
                    if bars {
                        multi.suspend(|| eprintln!("  {} | {line}", step.name()));
                    } else {
                        eprintln!("  {} | {line}", step.name());
                    }
                }
                // Only the console asks for approval; the CLI's deploy is approved by being run.
                Event::AwaitingApproval { .. } => {}
                Event::Progress {
                    step,
                    label,
                    current,
                    total,
                } => {
                    if !bars {
                        continue;
                    }
                    let bar = push_bar.get_or_insert_with(|| {
                        let bar =
                            multi.add(ProgressBar::new(total).with_style(bytes_style.clone()));
                        bar.set_prefix(step.name());
                        bar
                    });
                    bar.set_length(total);
                    bar.set_position(current);
                    bar.set_message(label);
                }
            }
        }
    }
}

#[derive(Serialize)]
struct SandboxReport {
    running: bool,
    seeded: bool,
    endpoint: Option<String>,
    region: &'static str,
    bucket: Option<String>,
    /// The container registry's address, when one runs: `127.0.0.1:PORT`.
    registry: Option<String>,
    pid: Option<u32>,
    folder: PathBuf,
}

async fn sandbox_command(command: SandboxCommand) -> anyhow::Result<()> {
    let sandbox = Sandbox::from_env()?;
    match command {
        SandboxCommand::Up { port } => {
            let state = sandbox.up(&UpOptions { port }, &mut print_progress).await?;
            eprintln!(
                "sandbox up at {}; run `eval \"$(lambdactl sandbox env)\"` to use it from this shell",
                state.endpoint()
            );
        }
        SandboxCommand::Down => match sandbox.down().await? {
            None => eprintln!("no sandbox was running"),
            Some(stopped) => {
                if let Some(warning) = stopped.warning {
                    eprintln!("warning: {warning}; remove them with `docker rmi`");
                }
                match stopped.removed_tags {
                    0 => eprintln!("sandbox stopped"),
                    count => eprintln!(
                        "sandbox stopped; removed {count} local image tags of its registry"
                    ),
                }
            }
        },
        SandboxCommand::Status(args) => {
            let health = sandbox.health().await?;
            let (running, seeded, state) = match health {
                Health::Down => (false, false, None),
                Health::Unseeded(state) => (true, false, Some(state)),
                Health::Up(state) => (true, true, Some(state)),
            };
            let report = SandboxReport {
                running,
                seeded,
                endpoint: state.as_ref().map(sandbox::SandboxState::endpoint),
                region: sandbox::REGION,
                bucket: state.as_ref().map(|s| s.bucket.clone()),
                registry: state
                    .as_ref()
                    .and_then(|s| s.registry.as_ref())
                    .map(sandbox::RegistryState::address),
                pid: state.as_ref().map(|s| s.moto_pid),
                folder: sandbox.dir().to_owned(),
            };
            let outcome = if seeded {
                Ok(())
            } else {
                Err(QuietExit(SANDBOX_NOT_UP).into())
            };
            if args.output == Output::Json {
                print_json(&report)?;
                return outcome;
            }
            let word = match (running, seeded) {
                (false, _) => "down",
                (true, false) => "running, not seeded (run `lambdactl sandbox up`)",
                (true, true) => "up",
            };
            println!("sandbox {word}");
            if let Some(state) = state {
                println!(
                    "endpoint {}\nregion   {}\nbucket   {}\npid      {}",
                    state.endpoint(),
                    sandbox::REGION,
                    state.bucket,
                    state.moto_pid
                );
            }
            if let Some(registry) = &report.registry {
                println!("registry {registry}");
            }
            println!("folder   {}", sandbox.dir().display());
            return outcome;
        }
        SandboxCommand::Relay {
            port,
            moto_port,
            registry_port,
        } => {
            sandbox::run_relay(port, moto_port, registry_port).await?;
        }
        SandboxCommand::Env => {
            let Health::Up(state) = sandbox.health().await? else {
                bail!("the sandbox is not up; run `lambdactl sandbox up` first");
            };
            write!(std::io::stdout().lock(), "{}", state.env_lines())?;
        }
    }
    Ok(())
}

fn plain_table(header: &[&str]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    if !header.is_empty() {
        table.set_header(header.to_vec());
    }
    table
}

fn print_table(table: &Table) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in table.lines() {
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
