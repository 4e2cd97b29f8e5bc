//! `lambdactl invoke` and the console's invoke view against the sandbox, whose Lambda runs in
//! moto's simple mode: the response is the event itself, or what the test queued through moto's
//! control API.

mod common;

use common::tmux::{Tmux, console_command};
use common::{TestSandbox, needs};
use serde_json::Value;

/// Queues the body moto's simple mode answers the next invoke with.
fn queue_result(sandbox: &TestSandbox, body: &str) {
    let endpoint = sandbox.var("AWS_ENDPOINT_URL");
    let request = serde_json::json!({ "results": [body], "region": sandbox.var("AWS_REGION") });
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST'))",
            &format!("{endpoint}/moto-api/static/lambda-simple/response"),
            &request.to_string(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn invoke_sends_json_once_and_reports_what_came_back() {
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };

    let report = sandbox.json(&["invoke", "--payload", r#"{"order": 7}"#, "--output", "json"]);
    for key in [
        "status_code",
        "function_error",
        "executed_version",
        "request_id",
        "payload",
        "log_tail",
    ] {
        assert!(report.get(key).is_some(), "no {key}: {report}");
    }
    assert_eq!(report["status_code"], 200);
    assert_eq!(report["function_error"], Value::Null);
    assert_eq!(report["payload"]["order"], 7);
    assert!(
        report["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    let file = sandbox.folder().join("event.json");
    std::fs::write(&file, r#"{"from": "a file"}"#).unwrap();
    let from_file = sandbox.json(&[
        "invoke",
        "--payload",
        &format!("@{}", file.display()),
        "--output",
        "json",
    ]);
    assert_eq!(from_file["payload"]["from"], "a file");

    queue_result(
        &sandbox,
        r#"{"statusCode": 200, "body": "{\"key\": \"data-1.json\"}"}"#,
    );
    let queued = sandbox.json(&["invoke", "--output", "json"]);
    assert_eq!(queued["payload"]["statusCode"], 200);

    let queued_async = sandbox.json(&["invoke", "--async", "--output", "json"]);
    assert_eq!(
        queued_async["status_code"], 202,
        "an Event invoke is accepted, not run"
    );

    let broken = sandbox.run(&["invoke", "--payload", r#"{"order": }"#]);
    assert_eq!(broken.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("not JSON") && stderr.contains("column"),
        "{stderr}"
    );
    assert!(stderr.contains("--payload"), "says what to pass: {stderr}");

    let empty = sandbox.run(&["invoke", "--payload", ""]);
    assert_eq!(
        empty.status.code(),
        Some(2),
        "an unset variable, not a wish for {{}}"
    );
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the payload is empty"));

    let no_file = sandbox.run(&["invoke", "--payload", "@no-such-event.json"]);
    assert_eq!(no_file.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&no_file.stderr);
    assert!(
        stderr.contains("reading the payload from no-such-event.json"),
        "{stderr}"
    );

    let missing = sandbox.run(&["--function", "no-such-function", "invoke"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
    assert!(
        stderr.contains("name and region"),
        "says what to check: {stderr}"
    );
}

#[test]
fn a_plain_invoke_shows_its_round_trip_and_is_remembered_for_the_console() {
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    let state = sandbox.folder().join("state");
    let plain = sandbox
        .command(common::binary())
        .envs(sandbox.env.iter().map(|(k, v)| (k, v)))
        .env("LAMBDACTL_STATE_DIR", &state)
        .args(["invoke", "--payload", r#"{"order": 8}"#])
        .output()
        .expect("lambdactl runs");
    let stdout = String::from_utf8_lossy(&plain.stdout);
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("status 200  version")
            && first.contains(" round trip ")
            && first.contains(" ms "),
        "{stdout}"
    );
    let history = std::fs::read_to_string(state.join("history/python-lambda.json"))
        .expect("the shell's invoke is in the function's history");
    let history: Vec<String> = serde_json::from_str(&history).unwrap();
    assert_eq!(history, [r#"{"order": 8}"#]);
}

/// The status line, just above the key hints on the screen's last line.
fn status_line(screen: &str) -> &str {
    screen
        .lines()
        .rev()
        .filter(|line| !line.trim().is_empty())
        .nth(1)
        .unwrap_or_default()
}

#[test]
fn the_editor_offers_the_projects_saved_payloads_and_after_a_restart_the_ones_sent_before() {
    if !needs("tmux") {
        return;
    }
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    // The project's payloads folder, relative to the folder the console runs in.
    let folder = sandbox.folder().join("assets/payloads");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("order.json"), "{\n  \"order\": 4417\n}\n").unwrap();
    let pid_file = sandbox.folder().join("pid");

    let tmux = Tmux::start(&sandbox, "saved-payloads", &console_command(&pid_file));
    tmux.wait_for(&["same as deployed"]);
    tmux.keys(&["i"]);
    tmux.wait_for(&["nothing sent yet"]);
    tmux.keys(&["C-r"]);
    let screen = tmux.wait_for(&["no payload sent to python-lambda before"]);
    assert!(
        status_line(&screen).contains("no payload sent"),
        "said on the status line:\n{screen}"
    );
    tmux.keys(&["C-p"]);
    let screen = tmux.wait_for(&["saved payload order.json (1 of 3)", "\"order\": 4417"]);
    assert!(status_line(&screen).contains("order.json"), "{screen}");
    tmux.keys(&["C-p"]);
    tmux.wait_for(&["saved payload empty.json (2 of 3)"]);
    tmux.keys(&["C-p", "C-p"]);
    tmux.wait_for(&["saved payload order.json (1 of 3)"]);
    tmux.keys(&["C-s"]);
    // Simple mode answers with the event: the response is the file's payload.
    let screen = tmux.wait_for(&["OK  HTTP 200"]);
    let response = screen.split("OK  HTTP 200").nth(1).unwrap_or_default();
    assert!(response.contains("\"order\": 4417"), "{screen}");
    tmux.keys(&["Escape", "q"]);
    tmux.wait_for(&["exited with 0"]);
    drop(tmux);

    let again = Tmux::start(&sandbox, "sent-before", &console_command(&pid_file));
    again.wait_for(&["same as deployed"]);
    again.keys(&["i"]);
    again.wait_for(&["nothing sent yet"]);
    again.keys(&["C-r"]);
    let screen = again.wait_for(&["payload sent before: 1 of 1, newest first"]);
    // The editor is the focused pane on the left, drawn with heavy borders.
    let editor: String = screen
        .lines()
        .map(|line| line.split('┃').nth(1).unwrap_or_default())
        .collect();
    assert!(
        editor.contains("\"order\": 4417"),
        "the payload sent in the last session is back in the editor:\n{screen}"
    );
    again.keys(&["Escape", "q"]);
    again.wait_for(&["exited with 0"]);
}
