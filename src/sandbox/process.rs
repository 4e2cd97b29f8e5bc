//! The sandbox's own processes: started detached in their own process group, found again by
//! pid, and stopped only when the pid still belongs to the program that was started.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::SandboxError;

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16, SandboxError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(SandboxError::io("finding a free port on 127.0.0.1"))
}

/// Whether `pid` still runs the program whose command line contains `marker`; a recycled pid
/// of another program does not count.
pub fn is_running(pid: u32, marker: &str) -> bool {
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
    !zombie && (cmdline.is_empty() || String::from_utf8_lossy(&cmdline).contains(marker))
}

/// Stops the process group `start` created, politely first.
pub fn stop(pid: u32, marker: &str) -> Result<(), SandboxError> {
    if !is_running(pid, marker) {
        return Ok(());
    }
    let group = Pid::from_raw(i32::try_from(pid).expect("a running pid fits in i32"));
    let _ = killpg(group, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(pid, marker) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if is_running(pid, marker) {
        killpg(group, Signal::SIGKILL).map_err(|errno| SandboxError::Io {
            doing: format!("stopping {marker} (pid {pid})"),
            cause: errno.into(),
        })?;
    }
    Ok(())
}

/// Starts a program in its own process group, so a Ctrl-C in the console does not stop it and
/// `stop` can end it with its children; its output goes to `log_path`.
pub fn spawn_detached(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    log_path: &Path,
) -> Result<u32, SandboxError> {
    use std::os::unix::process::CommandExt;

    let doing = format!("starting {}", program.display());
    let log = std::fs::File::create(log_path)
        .map_err(SandboxError::io(format!("creating {}", log_path.display())))?;
    let log_err = log.try_clone().map_err(SandboxError::io(doing.clone()))?;
    let child = std::process::Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .process_group(0)
        .spawn()
        .map_err(SandboxError::io(doing))?;
    Ok(child.id())
}
