//! lambdactl: a keyboard-driven console for one AWS Lambda function shipped as a container
//! image. See DESIGN.md for the layers; this file only starts the runtime and reports errors.

use std::process::ExitCode;

use clap::Parser;
use lambdactl::{cli, text};

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let _log_guard = init_logging();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // Background loads may still hold connections; they are not worth waiting for.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<cli::Interrupted>() => ExitCode::from(130),
        Err(error) if error.is::<cli::QuietExit>() => ExitCode::from(
            error
                .downcast_ref::<cli::QuietExit>()
                .map_or(1, |quiet| quiet.0),
        ),
        // A reader such as `head` that stops early is no failure of ours.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", text::sanitize_line(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let io_kind = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                cause
                    .downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            });
        io_kind == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to a file in the user's state folder, and only when `LAMBDACTL_LOG` names a level:
/// the console owns the terminal, so nothing may be written to it.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = std::env::var("LAMBDACTL_LOG")
        .ok()
        .filter(|value| !value.is_empty())?;
    let dirs = directories::ProjectDirs::from("", "", "lambdactl")?;
    let folder = dirs
        .state_dir()
        .unwrap_or_else(|| dirs.data_local_dir())
        .to_owned();
    std::fs::create_dir_all(&folder).ok()?;
    let (writer, guard) =
        tracing_appender::non_blocking(tracing_appender::rolling::never(folder, "lambdactl.log"));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(false)
        .with_writer(writer)
        .init();
    Some(guard)
}
