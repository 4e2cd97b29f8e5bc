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
    #[command(flatten)]
    output: OutputArgs,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

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
        Some(Command::Sandbox { command }) => sandbox_command(command).await,
    }
}

fn command_line(target: TargetArgs) -> CommandLine {
    CommandLine {
        config_file: target.config,
        function: target.function,
        region: target.region,
        profile: target.profile,
        endpoint_url: target.endpoint_url,
        repository: target.repository,
        bucket: target.bucket,
        log_group: target.log_group,
        architecture: target.architecture,
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
    let clients = AwsClients::connect(&connection).await;
    clients
        .check_credentials(settings.profile.as_deref())
        .await?;
    Ok(clients)
}

async fn open_console(settings: Settings, clients: AwsClients) -> anyhow::Result<()> {
    let keymap = ui::keymap::Keymap::with_overrides(&settings.keys)?;
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
        ..Settings::load(command_line)?
    };
    let keys = (
        sandbox::ACCESS_KEY_ID.to_owned(),
        sandbox::SECRET_ACCESS_KEY.to_owned(),
    );
    let clients = connect(&settings, Some(keys)).await?;
    open_console(settings, clients).await
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
    let function = clients.get_function(&settings.function).await?;
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
    let query = EventQuery {
        since: Some(chrono::Utc::now() - since),
        filter_pattern: args.filter.clone(),
        limit: None,
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
        writeln!(
            out,
            "{}  {}  {}",
            event.timestamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            sanitize_line(&event.stream),
            sanitize_line(&event.message)
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct SandboxReport {
    running: bool,
    seeded: bool,
    endpoint: Option<String>,
    region: &'static str,
    bucket: Option<String>,
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
        SandboxCommand::Down => {
            let stopped = sandbox.down()?;
            eprintln!(
                "{}",
                if stopped {
                    "sandbox stopped"
                } else {
                    "no sandbox was running"
                }
            );
        }
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
                pid: state.as_ref().map(|s| s.moto_pid),
                folder: sandbox.dir().to_owned(),
            };
            if args.output == Output::Json {
                return print_json(&report);
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
            println!("folder   {}", sandbox.dir().display());
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
    writeln!(std::io::stdout().lock(), "{table}")?;
    Ok(())
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}
