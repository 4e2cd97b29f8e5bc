//! Scenario K19, "error reported as success": when a function fails, Lambda still answers the
//! invoke with HTTP 200, but sets `X-Amz-Function-Error: Unhandled` and puts the error in the
//! body. moto's simple mode answers with any body queued through its control API but never
//! sets that header, so a proxy in front of the sandbox adds it to Invoke answers while
//! failing is switched on. lambdactl must report such an invoke as failed, with the error's
//! type, message and stack, in the CLI and in the console; an answer without the header stays
//! a success. Asked for it (`LogType=Tail`), Lambda also sends the last 4 KB of the
//! invocation's log, ending with its `REPORT` line; simple mode runs no handler and writes no
//! log, so the proxy adds the tail a run of the handler leaves, under a request id it sets too.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::proxy::{Action, Proxy, Request};
use common::tmux::{Tmux, console_command_with_env};
use common::{TestSandbox, binary, needs};
use serde_json::Value;

/// What a Python handler that reads a missing environment variable returns.
const ERROR_BODY: &str = r#"{"errorType":"KeyError","errorMessage":"'S3_BUCKET_NAME'","stackTrace":["  File \"/var/task/app.py\", line 9, in lambda_handler"]}"#;
const FRAME: &str = r#"File "/var/task/app.py", line 9, in lambda_handler"#;
const SUCCESS_BODY: &str = r#"{"statusCode":200}"#;
/// What the REPORT lines of the two tails below make of the function's own run.
const FAILED_RUN: &str = "ran 12.5 ms (billed 13 ms), 52 of 128 MB";
const COLD_RUN: &str = "ran 2.25 ms (billed 3 ms, cold start 150.5 ms), 41 of 128 MB";

/// The log tail of one invocation, as Lambda's Python runtime writes it.
fn log_tail(request_id: &str, fails: bool) -> String {
    let (body, report) = if fails {
        (
            format!(
                "[ERROR] KeyError: 'S3_BUCKET_NAME'\nTraceback (most recent call last):\n  {FRAME}\n"
            ),
            "Duration: 12.5 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 52 MB",
        )
    } else {
        (
            String::new(),
            "Duration: 2.25 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\t\
             Init Duration: 150.5 ms",
        )
    };
    format!(
        "START RequestId: {request_id} Version: $LATEST\n{body}END RequestId: {request_id}\n\
         REPORT RequestId: {request_id}\t{report}\t\n"
    )
}

/// The proxy rule's switch, and how many invokes it saw.
#[derive(Default)]
struct FunctionErrors {
    failing: AtomicBool,
    invokes: AtomicUsize,
}

impl FunctionErrors {
    /// Invoke answers get a request id and its log tail, and `X-Amz-Function-Error: Unhandled`
    /// while failing is on; everything else passes unchanged.
    fn rule(&self, request: &Request) -> Action {
        let path = request.path();
        let is_invoke = request.method() == "POST"
            && path.starts_with("/2015-03-31/functions/")
            && path.ends_with("/invocations");
        if !is_invoke {
            return Action::Forward;
        }
        let number = self.invokes.fetch_add(1, Ordering::SeqCst) + 1;
        let fails = self.failing.load(Ordering::SeqCst);
        let request_id = format!("5d0c6f8e-0000-4000-8000-{number:012}");
        let tail = base64::engine::general_purpose::STANDARD.encode(log_tail(&request_id, fails));
        let mut headers = vec![
            ("x-amzn-RequestId".to_owned(), request_id),
            ("X-Amz-Log-Result".to_owned(), tail),
        ];
        if fails {
            headers.push(("X-Amz-Function-Error".to_owned(), "Unhandled".to_owned()));
        }
        Action::ForwardSetting(headers)
    }
}

/// A sandbox with the proxy in front of it. The proxy is declared first so it stops before the
/// sandbox does.
struct FailingLambda {
    proxy: Proxy,
    errors: Arc<FunctionErrors>,
    sandbox: TestSandbox,
}

impl FailingLambda {
    fn start() -> Option<Self> {
        let sandbox = TestSandbox::start()?;
        let errors = Arc::new(FunctionErrors::default());
        let deciding = errors.clone();
        let proxy = Proxy::start(sandbox.var("AWS_ENDPOINT_URL"), move |request| {
            deciding.rule(request)
        });
        Some(Self {
            proxy,
            errors,
            sandbox,
        })
    }

    /// Makes the next invoke fail the way a function error does, or succeed.
    fn next_invoke(&self, fails: bool) {
        self.errors.failing.store(fails, Ordering::SeqCst);
        queue_result(&self.sandbox, if fails { ERROR_BODY } else { SUCCESS_BODY });
    }

    fn invokes(&self) -> usize {
        self.errors.invokes.load(Ordering::SeqCst)
    }

    /// `lambdactl invoke` with the sandbox's variables, but the proxy as the endpoint.
    fn invoke(&self, args: &[&str]) -> Output {
        self.sandbox
            .command(binary())
            .envs(self.sandbox.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_ENDPOINT_URL", self.proxy.url())
            .arg("invoke")
            .args(args)
            .output()
            .expect("lambdactl runs")
    }
}

/// Queues the body moto's simple mode answers the next invoke with, straight to the sandbox.
fn queue_result(sandbox: &TestSandbox, body: &str) {
    let authority = sandbox
        .var("AWS_ENDPOINT_URL")
        .strip_prefix("http://")
        .expect("the sandbox endpoint is plain HTTP")
        .trim_end_matches('/');
    let request =
        serde_json::json!({ "results": [body], "region": sandbox.var("AWS_REGION") }).to_string();
    let mut connection = TcpStream::connect(authority).expect("the sandbox listens");
    connection
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        connection,
        "POST /moto-api/static/lambda-simple/response HTTP/1.1\r\n\
         host: {authority}\r\n\
         content-type: application/json\r\n\
         content-length: {}\r\n\
         connection: close\r\n\
         \r\n\
         {request}",
        request.len()
    )
    .unwrap();
    let mut answer = String::new();
    connection.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 20"),
        "moto refused the queued result: {answer}"
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "not JSON ({error}): {}\nstderr:\n{}",
            text(&output.stdout),
            text(&output.stderr)
        )
    })
}

#[test]
fn the_cli_reports_a_function_error_as_a_failure_and_a_success_as_a_success() {
    let Some(lambda) = FailingLambda::start() else {
        return;
    };

    lambda.next_invoke(true);
    let failed = lambda.invoke(&["--output", "json"]);
    let stderr = text(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "stderr:\n{stderr}");
    let report = json(&failed);
    assert_eq!(report["status_code"], 200, "{report}");
    assert_eq!(report["function_error"], "Unhandled", "{report}");
    assert_eq!(report["payload"]["errorType"], "KeyError", "{report}");
    assert_eq!(report["payload"]["errorMessage"], "'S3_BUCKET_NAME'");
    assert!(stderr.contains("KeyError"), "{stderr}");
    assert!(
        report["log_tail"]
            .as_str()
            .is_some_and(|tail| tail.contains("[ERROR] KeyError")),
        "the log tail comes decoded: {report}"
    );
    assert_eq!(report["report"]["duration_ms"], 12.5, "{report}");
    assert_eq!(report["report"]["max_memory_used_mb"], 52, "{report}");
    assert_eq!(
        report["report"]["init_duration_ms"],
        Value::Null,
        "a warm run: {report}"
    );

    lambda.next_invoke(true);
    let failed = lambda.invoke(&[]);
    let stderr = text(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "stderr:\n{stderr}");
    assert!(
        stderr.lines().any(
            |line| line == "error: the function failed (Unhandled): KeyError: 'S3_BUCKET_NAME'"
        ),
        "the error line names the error's type and message:\n{stderr}"
    );
    assert!(
        stderr.lines().any(|line| line.trim() == FRAME),
        "the stack frame is shown:\n{stderr}"
    );
    let stdout = text(&failed.stdout);
    assert!(
        stdout.lines().any(|line| line == FAILED_RUN),
        "the function's own time and memory:\n{stdout}"
    );

    lambda.next_invoke(false);
    let succeeded = lambda.invoke(&["--output", "json"]);
    assert!(
        succeeded.status.success(),
        "stderr:\n{}",
        text(&succeeded.stderr)
    );
    let report = json(&succeeded);
    assert_eq!(report["function_error"], Value::Null, "{report}");
    assert_eq!(report["payload"]["statusCode"], 200, "{report}");
    assert_eq!(
        report["report"]["init_duration_ms"], 150.5,
        "a cold start: {report}"
    );

    assert_eq!(
        lambda.invokes(),
        3,
        "each invoke went through the proxy, once"
    );
    let problems = lambda.proxy.problems();
    assert!(problems.is_empty(), "the proxy failed: {problems:?}");
}

/// The screen line of the response pane that starts with `prefix`, if any.
fn pane_line<'a>(screen: &'a str, prefix: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|line| line.contains(&format!("│{prefix}")))
}

#[test]
fn the_console_shows_a_function_error_as_a_failure_with_its_stack() {
    if !needs("tmux") {
        return;
    }
    let Some(lambda) = FailingLambda::start() else {
        return;
    };
    let url = lambda.proxy.url();
    let command = console_command_with_env(
        &lambda.sandbox.folder().join("pid"),
        &[("AWS_ENDPOINT_URL", &url)],
    );
    let tmux = Tmux::start(&lambda.sandbox, "invoke-error", &command);
    tmux.wait_for(&["same as deployed"]);

    lambda.next_invoke(true);
    tmux.keys(&["i"]);
    tmux.wait_for(&["Ctrl-S send", "nothing sent yet"]);
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for(&["FAILED (Unhandled): KeyError"]);
    assert!(
        pane_line(&screen, "FAILED (Unhandled): KeyError: 'S3_BUCKET_NAME'").is_some(),
        "the response starts with the verdict, type and message:\n{screen}"
    );
    assert!(
        screen.contains(r#""errorType": "KeyError""#) && screen.contains("/var/task/app.py"),
        "the error's body and stack are shown:\n{screen}"
    );
    assert!(
        pane_line(&screen, FAILED_RUN).is_some() && screen.contains("[ERROR] KeyError"),
        "the function's own time and its log tail are shown:\n{screen}"
    );
    assert_eq!(lambda.invokes(), 1, "Ctrl-S sent one invoke");

    lambda.next_invoke(false);
    tmux.keys(&["C-s"]);
    let screen = tmux.wait_for(&["OK  HTTP 200", r#""statusCode": 200"#, COLD_RUN]);
    assert!(
        !screen.contains("FAILED"),
        "a success is not a failure:\n{screen}"
    );
    assert_eq!(lambda.invokes(), 2, "Ctrl-S sent one more invoke");

    // Taken before quitting, which may cut a connection the proxy is serving.
    let problems = lambda.proxy.problems();
    tmux.keys(&["Escape", "q"]);
    tmux.wait_for(&["exited with 0"]);
    assert!(problems.is_empty(), "the proxy failed: {problems:?}");
}
