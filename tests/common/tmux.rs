//! The real binary in tmux, driven as a person would: keys sent with `send-keys`, the screen
//! read with `capture-pane`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{TestSandbox, binary};

/// One tmux server per test, on its own socket, so tests never see each other's panes.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(sandbox: &TestSandbox, name: &str, shell_command: &str) -> Self {
        let socket = format!("lambdactl-test-{name}-{}", std::process::id());
        let tmux = Self { socket };
        let mut command = sandbox.command("tmux");
        command
            .envs(sandbox.env.iter().map(|(k, v)| (k, v)))
            .env("TERM", "xterm-256color");
        let status = command
            .args([
                "-L",
                &tmux.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
            ])
            .arg(shell_command)
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new-session failed");
        tmux
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    pub fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", key]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until every text is on the screen, or fails with the screen as it was.
    pub fn wait_for(&self, texts: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if texts.iter().all(|text| screen.contains(text)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {texts:?}; the screen shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `alternate_on cursor_flag` of the pane: `0 1` once the terminal is given back.
    pub fn terminal_modes(&self) -> String {
        self.tmux(&["display-message", "-p", "#{alternate_on} #{cursor_flag}"])
            .trim()
            .to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Runs lambdactl in the pane, then reports how it exited and the tty's modes, and waits so the
/// screen can be read.
pub fn console_command(pid_file: &Path) -> String {
    console_command_with_env(pid_file, &[])
}

/// [`console_command`] with variables set for lambdactl alone, e.g. another endpoint. The
/// values go into a shell command unquoted, so they must be plain words.
pub fn console_command_with_env(pid_file: &Path, env: &[(&str, &str)]) -> String {
    let program = if env.is_empty() {
        binary().to_owned()
    } else {
        let assignments: Vec<String> = env
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        format!("env {} {}", assignments.join(" "), binary())
    };
    format!(
        "sh -c 'echo $$ > {pid}; exec {program}'; echo \"exited with $?\"; stty -a | tr \" \" \"\\n\" | grep -x -e icanon -e -icanon -e echo -e -echo; sleep 600",
        pid = pid_file.display(),
    )
}
