//! The real binary in tmux against a real sandbox, driven as a person would: keys sent with
//! `send-keys`, the screen read with `capture-pane`.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{TestSandbox, binary, needs};

/// One tmux server per test, on its own socket, so tests never see each other's panes.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(sandbox: &TestSandbox, name: &str, shell_command: &str) -> Self {
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

    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p"])
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.tmux(&["send-keys", key]);
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits until every text is on the screen, or fails with the screen as it was.
    fn wait_for(&self, texts: &[&str]) -> String {
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
    fn terminal_modes(&self) -> String {
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
fn console_command(pid_file: &std::path::Path) -> String {
    format!(
        "sh -c 'echo $$ > {pid}; exec {binary}'; echo \"exited with $?\"; stty -a | tr \" \" \"\\n\" | grep -x -e icanon -e -icanon -e echo -e -echo; sleep 600",
        pid = pid_file.display(),
        binary = binary(),
    )
}

/// Waits for the shell's line after lambdactl ended, then checks the tty is back in cooked mode
/// with echo, on the main screen, with a visible cursor.
fn assert_terminal_restored(tmux: &Tmux, exit_line: &str) {
    let after = tmux.wait_for(&[exit_line, "echo"]);
    let modes: Vec<&str> = after.lines().collect();
    assert!(
        modes.contains(&"icanon") && modes.contains(&"echo"),
        "{after}"
    );
    assert_eq!(
        tmux.terminal_modes(),
        "0 1",
        "main screen and a visible cursor"
    );
}

fn needs_everything() -> Option<TestSandbox> {
    if !needs("tmux") {
        return None;
    }
    TestSandbox::start()
}

#[test]
fn the_console_shows_every_pane_and_gives_the_terminal_back_on_quit() {
    let Some(sandbox) = needs_everything() else {
        return;
    };
    let status = sandbox.json(&["status", "--output", "json"]);
    let deployed = status["deployed_digest"].as_str().unwrap().to_owned();
    let short = &deployed[7..19];

    let tmux = Tmux::start(
        &sandbox,
        "quit",
        &console_command(&sandbox.folder().join("pid")),
    );
    let screen = tmux.wait_for(&[
        &deployed,
        "same as deployed",
        "python-lambda-repo",
        "(37)",
        "(6)",
        "START RequestId",
    ]);
    assert!(screen.contains("Active"), "{screen}");
    // The deployed image's row carries both marks in words, not colour alone.
    let row = screen
        .lines()
        .find(|line| line.contains(short) && !line.contains(&deployed))
        .expect("the deployed image's row");
    assert!(row.contains("deployed, recorded"), "{row}");
    assert!(screen.contains("ready"), "{screen}");
    assert_eq!(
        tmux.terminal_modes(),
        "1 0",
        "the console runs on the alternate screen, cursor hidden"
    );

    // Focus Logs and pick the second stream: its events replace the first's.
    let first_title = screen
        .lines()
        .find(|line| line.contains("events"))
        .unwrap()
        .to_owned();
    tmux.keys(&["3", "j"]);
    let moved = tmux.wait_for(&["▶ 3 Logs"]);
    std::thread::sleep(Duration::from_millis(500));
    let moved = if moved.contains(&first_title) {
        tmux.screen()
    } else {
        moved
    };
    assert!(
        !moved.contains(&first_title),
        "the events title follows the selection:\n{moved}"
    );

    tmux.keys(&["?"]);
    tmux.wait_for(&["help: ? or Esc closes", "focus the next pane"]);
    tmux.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!tmux.screen().contains("help: ? or Esc closes"));

    tmux.keys(&["q"]);
    assert_terminal_restored(&tmux, "exited with 0");
}

#[test]
fn sigterm_and_sighup_give_the_terminal_back() {
    let Some(sandbox) = needs_everything() else {
        return;
    };
    for (name, signal) in [("term", "-TERM"), ("hup", "-HUP")] {
        let pid_file = sandbox.folder().join(format!("pid-{name}"));
        let tmux = Tmux::start(&sandbox, name, &console_command(&pid_file));
        tmux.wait_for(&["same as deployed"]);
        let pid = std::fs::read_to_string(&pid_file)
            .expect("the pid file")
            .trim()
            .to_owned();
        let killed = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        assert_terminal_restored(&tmux, "exited with");
    }
}

#[test]
fn a_missing_function_is_an_error_line_and_the_console_keeps_running() {
    let Some(sandbox) = needs_everything() else {
        return;
    };
    let command = console_command(&sandbox.folder().join("pid")).replacen(
        "exec ",
        "exec env LAMBDACTL_FUNCTION=no-such-function ",
        1,
    );
    let tmux = Tmux::start(&sandbox, "missing", &command);
    let screen = tmux.wait_for(&[
        "error: reading function no-such-function",
        "ResourceNotFoundException",
    ]);
    assert!(screen.contains("no-such-function"));
    tmux.keys(&["r"]);
    std::thread::sleep(Duration::from_millis(500));
    tmux.wait_for(&["error: reading function no-such-function"]);
    tmux.keys(&["q"]);
    tmux.wait_for(&["exited with 0"]);
}

#[test]
fn rollback_from_the_images_pane_asks_then_deploys_and_records() {
    let Some(sandbox) = needs_everything() else {
        return;
    };
    let images = sandbox.json(&["images", "--output", "json"]);
    let target = images
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["deployed"] == false)
        .expect("an image the function does not run")["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    let tmux = Tmux::start(
        &sandbox,
        "rollback",
        &console_command(&sandbox.folder().join("pid")),
    );
    tmux.wait_for(&["same as deployed", "python-lambda-repo"]);
    // Walk down the Images pane to the target's row.
    tmux.keys(&["1", "g"]);
    for _ in 0..images.as_array().unwrap().len() {
        let screen = tmux.screen();
        let selected = screen
            .lines()
            .find(|line| line.contains("> ") && line.contains(&target[7..19]));
        if selected.is_some() {
            break;
        }
        tmux.keys(&["j"]);
    }
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Roll back python-lambda?", &target]);
    tmux.keys(&["y"]);
    tmux.wait_for(&[&format!("rolled back {target}")]);

    let status = sandbox.json(&["status", "--output", "json"]);
    assert_eq!(status["deployed_digest"], target.as_str());
    assert_eq!(status["recorded_digest"], target.as_str());
    tmux.keys(&["Escape", "q"]);
    tmux.wait_for(&["exited with 0"]);
}
