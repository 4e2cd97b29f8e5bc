//! The AWS stand-in: a moto server on loopback, installed on first use when it is not on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

use super::process::{is_running, spawn_detached};
use super::{SandboxError, loopback};

/// The package pip installs when moto is missing.
const MOTO_PACKAGE: &str = "moto[server]";

/// Finds `moto_server`: `LAMBDACTL_MOTO_SERVER`, then `PATH`, then the cache folder; installs it
/// into the cache folder when none of them has it.
pub async fn ensure_installed(
    cache_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, SandboxError> {
    if let Some(path) = std::env::var_os("LAMBDACTL_MOTO_SERVER") {
        return Ok(PathBuf::from(path));
    }
    if let Ok(path) = which::which("moto_server") {
        return Ok(path);
    }
    let venv = cache_dir.join("moto");
    let server = venv.join("bin").join("moto_server");
    if server.is_file() {
        return Ok(server);
    }

    let python = which::which("python3").map_err(|_| {
        SandboxError::Setup(
            "installing moto, the sandbox's AWS stand-in: python3 is not installed; install \
             Python 3 with venv (apt-get install python3 python3-venv) or put moto_server on PATH"
                .to_owned(),
        )
    })?;
    std::fs::create_dir_all(cache_dir).map_err(SandboxError::io(format!(
        "creating {}",
        cache_dir.display()
    )))?;
    progress(&format!(
        "moto is not on PATH; installing it into {}",
        venv.display()
    ));
    let venv_text = venv.to_string_lossy().into_owned();
    run_streaming(&python, &["-m", "venv", &venv_text], progress).await?;
    let venv_python = venv.join("bin").join("python");
    let pip_args = [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        MOTO_PACKAGE,
    ];
    if let Err(error) = run_streaming(&venv_python, &pip_args, progress).await {
        // A half-made environment would be taken for a finished one next time.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(error);
    }
    Ok(server)
}

/// Runs an installer command, passing each line it prints to `progress`.
async fn run_streaming(
    program: &Path,
    args: &[&str],
    progress: &mut dyn FnMut(&str),
) -> Result<(), SandboxError> {
    let doing = format!(
        "installing moto: running {} {}",
        program.display(),
        args.join(" ")
    );
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(SandboxError::io(doing.clone()))?;
    let stderr = child.stderr.take().expect("stderr is piped");
    let stderr_task = tokio::spawn(async move {
        let mut text = String::new();
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut lines =
        tokio::io::BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        progress(&line);
    }
    let status = child
        .wait()
        .await
        .map_err(SandboxError::io(doing.clone()))?;
    let errors = stderr_task.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let last = errors
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("no output");
    Err(SandboxError::Setup(format!(
        "{doing}: failed with {status}: {last}; check that python3-venv is installed and that \
         PyPI is reachable, or put moto_server on PATH"
    )))
}

/// Starts moto on `port`, logging to `log_path`.
pub fn start(server: &Path, port: u16, log_path: &Path) -> Result<u32, SandboxError> {
    let port = port.to_string();
    // Function images are checked against the emulated ECR, so the function's code hash is the
    // image digest, as in AWS, rather than a hash of the URI text.
    let env = [("MOTO_LAMBDA_STUB_ECR", "false")];
    spawn_detached(server, &["-H", "127.0.0.1", "-p", &port], &env, log_path)
}

/// Whether the server on `port` answers HTTP at all.
pub async fn answers(port: u16) -> bool {
    loopback::request(port, "GET", "/moto-api/", &[], None)
        .await
        .is_ok()
}

/// Waits until moto answers, failing early when the process dies.
pub async fn wait_until_ready(pid: u32, port: u16, limit: Duration) -> Result<(), SandboxError> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if answers(port).await {
            return Ok(());
        }
        if !is_running(pid, "moto") {
            return Err(SandboxError::Setup(format!(
                "starting moto on port {port}: the process exited; see moto.log in the sandbox \
                 folder (is the port taken?)"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(SandboxError::Setup(format!(
        "starting moto on port {port}: no answer after {} s",
        limit.as_secs()
    )))
}

/// Puts Lambda in simple mode, where an invoke runs no container. It must be set before any
/// function is created.
pub async fn configure(port: u16) -> Result<(), SandboxError> {
    let body = serde_json::json!({ "lambda": { "use_docker": false } }).to_string();
    let (status, _) = loopback::request(port, "POST", "/moto-api/config", &[], Some(body)).await?;
    if status < 300 {
        Ok(())
    } else {
        Err(SandboxError::Setup(format!(
            "configuring moto: HTTP {status}"
        )))
    }
}
