//! The CLI twins against a real sandbox: what they print agrees with the sandbox's seed, with
//! each other and with the AWS CLI.

mod common;

use std::collections::BTreeSet;

use common::{TestSandbox, is_digest, needs};
use serde_json::Value;

#[test]
fn twins_report_the_sandbox_as_seeded_and_as_the_aws_cli_sees_it() {
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };

    let status = status_shows_matching_digests(&sandbox);
    images_mark_exactly_the_deployed_one(&sandbox, &status);
    objects_match_the_aws_cli(&sandbox, &status);
    logs_hold_lambda_style_invocations(&sandbox);
    errors_are_one_readable_line(&sandbox);
    up_again_changes_nothing_and_down_stops_the_server(&sandbox);
}

fn status_shows_matching_digests(sandbox: &TestSandbox) -> Value {
    let status = sandbox.json(&["status", "--output", "json"]);
    for key in [
        "function",
        "region",
        "endpoint",
        "state",
        "last_update_status",
        "image_uri",
        "deployed_digest",
        "recorded_digest",
        "repository",
        "bucket",
        "log_group",
        "architecture",
    ] {
        assert!(status.get(key).is_some(), "status has no {key}: {status}");
    }
    assert_eq!(status["function"], "python-lambda");
    assert_eq!(status["region"], "us-east-1");
    assert_eq!(status["endpoint"], sandbox.var("AWS_ENDPOINT_URL"));
    assert_eq!(status["state"], "Active");
    assert_eq!(status["repository"], "python-lambda-repo");
    assert_eq!(status["log_group"], "/aws/lambda/python-lambda");
    assert_eq!(status["architecture"], "x86_64");
    let bucket = status["bucket"].as_str().unwrap();
    assert!(
        bucket.starts_with("lambda-artifacts-") && bucket.len() == 25,
        "{bucket}"
    );
    assert!(is_digest(&status["deployed_digest"]), "{status}");
    assert_eq!(status["deployed_digest"], status["recorded_digest"]);
    status
}

fn images_mark_exactly_the_deployed_one(sandbox: &TestSandbox, status: &Value) {
    let images = sandbox.json(&["images", "--output", "json"]);
    let images = images.as_array().expect("an array");
    assert!(images.len() >= 3, "{images:?}");
    let digests: BTreeSet<_> = images
        .iter()
        .map(|image| image["digest"].as_str().unwrap())
        .collect();
    assert_eq!(digests.len(), images.len(), "digests are distinct");

    let deployed: Vec<_> = images
        .iter()
        .filter(|image| image["deployed"] == true)
        .collect();
    assert_eq!(
        deployed.len(),
        1,
        "exactly one image is marked deployed: {images:?}"
    );
    assert_eq!(deployed[0]["digest"], status["deployed_digest"]);
    assert_eq!(deployed[0]["recorded"], true);
    for image in images {
        assert!(is_digest(&image["digest"]));
        let pushed = image["pushed_at"].as_str().expect("pushed_at");
        chrono::DateTime::parse_from_rfc3339(pushed).expect("pushed_at is RFC 3339");
        assert!(image["size_bytes"].as_i64().is_some_and(|size| size > 0));
        assert_eq!(
            image["media_type"],
            "application/vnd.docker.distribution.manifest.v2+json"
        );
        assert!(image["tags"].is_array());
    }
}

fn objects_match_the_aws_cli(sandbox: &TestSandbox, status: &Value) {
    let objects = sandbox.json(&["objects", "--output", "json"]);
    let objects = objects.as_array().expect("an array");
    let keys: BTreeSet<String> = objects
        .iter()
        .map(|object| object["key"].as_str().unwrap().to_owned())
        .collect();
    let data_keys = keys
        .iter()
        .filter(|key| {
            let path = std::path::Path::new(key.as_str());
            key.starts_with("data-") && path.extension().is_some_and(|ext| ext == "json")
        })
        .count();
    assert!(data_keys >= 30, "only {data_keys} data objects");
    assert!(keys.contains("lambda-python/image_digest.txt"));
    for object in objects {
        assert!(object["size_bytes"].as_i64().is_some());
        chrono::DateTime::parse_from_rfc3339(object["last_modified"].as_str().unwrap()).unwrap();
        assert!(object["etag"].is_string());
    }
    // Newest first: data keys embed their time, so they come in descending key order.
    let data_order: Vec<_> = objects
        .iter()
        .filter_map(|o| o["key"].as_str())
        .filter(|k| k.starts_with("data-"))
        .collect();
    assert!(
        data_order.windows(2).all(|pair| pair[0] > pair[1]),
        "objects are newest first"
    );

    if !needs("aws") {
        return;
    }
    let bucket = status["bucket"].as_str().unwrap();
    let listed = sandbox.run_with_env(
        "aws",
        &[
            "s3api",
            "list-objects-v2",
            "--bucket",
            bucket,
            "--output",
            "json",
        ],
    );
    assert!(
        listed.status.success(),
        "aws s3api failed: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let aws_keys: BTreeSet<String> = listed["Contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|object| object["Key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, aws_keys);
}

fn logs_hold_lambda_style_invocations(sandbox: &TestSandbox) {
    let events = sandbox.json(&["logs", "--since", "7d", "--output", "json"]);
    let events = events.as_array().expect("an array");
    assert!(!events.is_empty());
    let streams: BTreeSet<_> = events
        .iter()
        .map(|event| event["stream"].as_str().unwrap())
        .collect();
    assert!(streams.len() >= 3, "{streams:?}");
    for prefix in ["START RequestId: ", "END RequestId: ", "REPORT RequestId: "] {
        assert!(
            events
                .iter()
                .any(|event| event["message"].as_str().unwrap().starts_with(prefix)),
            "no {prefix} line"
        );
    }
    let times: Vec<_> = events
        .iter()
        .map(|event| {
            chrono::DateTime::parse_from_rfc3339(event["timestamp"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "events are in time order"
    );
    assert!(events.iter().all(|event| event.get("event_id").is_some()));

    // A filter pattern is applied by the service: only REPORT lines come back.
    let reports = sandbox.json(&[
        "logs", "--since", "7d", "--filter", "REPORT", "--output", "json",
    ]);
    let reports = reports.as_array().unwrap();
    assert!(!reports.is_empty() && reports.len() < events.len());
    assert!(
        reports
            .iter()
            .all(|event| event["message"].as_str().unwrap().contains("REPORT"))
    );
}

fn errors_are_one_readable_line(sandbox: &TestSandbox) {
    let missing = sandbox.run(&["--function", "no-such-function", "status"]);
    assert_eq!(missing.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("reading function no-such-function"),
        "{stderr}"
    );
    assert!(stderr.contains("ResourceNotFoundException"), "{stderr}");
    assert!(stderr.contains("--function"), "says what to do: {stderr}");
    assert!(missing.stdout.is_empty());

    let bad_flag = sandbox.run(&["status", "--no-such-flag"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_flag.stderr).contains("--no-such-flag"));

    // The console without a terminal (here its output is a pipe): one line saying so.
    let no_terminal = sandbox.run(&[]);
    assert_eq!(no_terminal.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&no_terminal.stderr);
    assert!(
        stderr.contains("the console needs a terminal") && stderr.contains("--output json"),
        "{stderr}"
    );

    // No region anywhere: said before any call is made.
    let no_region = sandbox.run_plain(&["status"]);
    assert_eq!(no_region.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_region.stderr).contains("no region"));

    // A wrong endpoint: the cause is in the line, not just "dispatch failure".
    let unreachable = sandbox.run(&["--endpoint-url", "http://127.0.0.1:9", "status"]);
    assert_eq!(unreachable.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert!(
        stderr.contains("reading function python-lambda") && stderr.contains("onnect"),
        "{stderr}"
    );
}

fn up_again_changes_nothing_and_down_stops_the_server(sandbox: &TestSandbox) {
    let before = sandbox.json(&["sandbox", "status", "--output", "json"]);
    assert_eq!(before["running"], true);
    assert_eq!(before["seeded"], true);
    let again = sandbox.run_plain(&["sandbox", "up"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already up"));
    let after = sandbox.json(&["sandbox", "status", "--output", "json"]);
    assert_eq!(before, after);
    let objects = sandbox.json(&["objects", "--output", "json"]);
    assert_eq!(
        objects.as_array().unwrap().len(),
        37,
        "a second up seeds nothing twice"
    );

    let pid = before["pid"].as_u64().unwrap();
    let down = sandbox.run_plain(&["sandbox", "down"]);
    assert!(down.status.success());
    // Gone, or a zombie waiting for a parent that is not ours to reap it.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let alive = stat
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| !rest.starts_with('Z'));
    assert!(!alive, "moto (pid {pid}) is stopped: {stat}");
    let down_status = sandbox.run(&["sandbox", "status", "--output", "json"]);
    assert_eq!(
        down_status.status.code(),
        Some(3),
        "status says `down` with exit status 3, for scripts"
    );
    let status: serde_json::Value = serde_json::from_slice(&down_status.stdout).unwrap();
    assert_eq!(status["running"], false);
    let plain = sandbox.run(&["sandbox", "status"]);
    assert_eq!(plain.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&plain.stdout).starts_with("sandbox down"));
    assert!(plain.stderr.is_empty(), "no error line: {plain:?}");
    let env = sandbox.run_plain(&["sandbox", "env"]);
    assert_eq!(
        env.status.code(),
        Some(1),
        "env refuses when the sandbox is down"
    );
}
