//! The real binary in tmux against a real sandbox, driven as a person would: keys sent with
//! `send-keys`, the screen read with `capture-pane`.

mod common;

use std::process::Command;
use std::time::Duration;

use common::tmux::{Tmux, console_command};
use common::{TestSandbox, needs};

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
