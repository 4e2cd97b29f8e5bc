//! The AWS stand-in: a moto server on loopback, installed on first use when it is not on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncBufReadExt;

use super::SandboxError;

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

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, SandboxError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(SandboxError::io("finding a free port on 127.0.0.1"))
}

/// Starts moto in its own process group, so a Ctrl-C in the console does not stop it.
pub fn start(server: &Path, port: u16, log_path: &Path) -> Result<u32, SandboxError> {
    use std::os::unix::process::CommandExt;

    let doing = format!("starting {}", server.display());
    let log = std::fs::File::create(log_path)
        .map_err(SandboxError::io(format!("creating {}", log_path.display())))?;
    let log_err = log.try_clone().map_err(SandboxError::io(doing.clone()))?;
    let child = std::process::Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        // Function images are checked against the emulated ECR, so the function's code hash
        // is the image digest, as in AWS, rather than a hash of the URI text.
        .env("MOTO_LAMBDA_STUB_ECR", "false")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(SandboxError::io(doing))?;
    Ok(child.id())
}

/// Whether `pid` is still a moto process; a recycled pid of another program does not count.
pub fn is_running(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    if kill(Pid::from_raw(raw), None).is_err() {
        return false;
    }
    // Without /proc the signal check is all there is.
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state letter follows the command name in parentheses; `Z` is a dead child not yet
    // reaped, which is no server.
    let zombie = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| rest.starts_with('Z'));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    // The command line reads empty for a moment while a launcher script execs the server.
    !zombie && (cmdline.is_empty() || String::from_utf8_lossy(&cmdline).contains("moto"))
}

/// Stops the process group `start` created, politely first.
pub fn stop(pid: u32) -> Result<(), SandboxError> {
    if !is_running(pid) {
        return Ok(());
    }
    let group = Pid::from_raw(i32::try_from(pid).expect("a running pid fits in i32"));
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if is_running(pid) {
        killpg(group, Signal::SIGKILL).map_err(|errno| SandboxError::Io {
            doing: format!("stopping moto (pid {pid})"),
            source: errno.into(),
        })?;
    }
    Ok(())
}

/// Whether the server on `port` answers HTTP at all.
pub async fn answers(port: u16) -> bool {
    request(port, "GET", "/moto-api/", None).await.is_ok()
}

/// Waits until moto answers, failing early when the process dies.
pub async fn wait_until_ready(pid: u32, port: u16, limit: Duration) -> Result<(), SandboxError> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if answers(port).await {
            return Ok(());
        }
        if !is_running(pid) {
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
    let status = request(port, "POST", "/moto-api/config", Some(body)).await?;
    if status < 300 {
        Ok(())
    } else {
        Err(SandboxError::Setup(format!(
            "configuring moto: HTTP {status}"
        )))
    }
}

async fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<u16, SandboxError> {
    let doing = format!("calling moto: {method} {path}");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))
        .map_err(|error| SandboxError::Setup(format!("{doing}: {error}")))?;
    let call = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        // The body is drained so the connection closes cleanly.
        let _ = response.into_body().collect().await;
        Ok::<_, hyper_util::client::legacy::Error>(status)
    };
    match tokio::time::timeout(Duration::from_secs(5), call).await {
        Ok(Ok(status)) => Ok(status),
        Ok(Err(error)) => Err(SandboxError::Setup(format!("{doing}: {error}"))),
        Err(_) => Err(SandboxError::Setup(format!(
            "{doing}: no answer within 5 s"
        ))),
    }
}
