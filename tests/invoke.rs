//! `lambdactl invoke` against the sandbox, whose Lambda runs in moto's simple mode: the response
//! is the event itself, or what the test queued through moto's control API.

mod common;

use common::TestSandbox;
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
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("not JSON") && stderr.contains("column"),
        "{stderr}"
    );
    assert!(stderr.contains("--payload"), "says what to pass: {stderr}");

    let missing = sandbox.run(&["--function", "no-such-function", "invoke"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ResourceNotFoundException"));
}
