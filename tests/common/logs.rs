//! Shared by the `logs --follow` tests: events written to the sandbox through the SDK, and a
//! running follower whose every line is recorded with the moment it arrived.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::Value;

use super::{TestSandbox, binary};

/// The log group of the sandbox's function, the one `lambdactl logs` follows.
pub const LOG_GROUP: &str = "/aws/lambda/python-lambda";

/// An SDK client for the sandbox's CloudWatch Logs, so events reach it without lambdactl.
pub async fn logs_client(sandbox: &TestSandbox) -> Client {
    let credentials = aws_sdk_cloudwatchlogs::config::Credentials::new(
        sandbox.var("AWS_ACCESS_KEY_ID"),
        sandbox.var("AWS_SECRET_ACCESS_KEY"),
        None,
        None,
        "test",
    );
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(
            sandbox.var("AWS_REGION").to_owned(),
        ))
        .endpoint_url(sandbox.var("AWS_ENDPOINT_URL"))
        .credentials_provider(credentials)
        .load()
        .await;
    Client::new(&config)
}

/// Creates a stream in the function's log group for the test to write to.
pub async fn create_stream(client: &Client, stream: &str) {
    client
        .create_log_stream()
        .log_group_name(LOG_GROUP)
        .log_stream_name(stream)
        .send()
        .await
        .expect("CreateLogStream");
}

/// A sandbox of the test's own, a client for its logs and a new stream to write to; `None`
/// where [`TestSandbox::start`] skips.
pub async fn sandbox_with_stream(stream: &str) -> Option<(TestSandbox, Client)> {
    let sandbox = TestSandbox::start()?;
    let client = logs_client(&sandbox).await;
    create_stream(&client, stream).await;
    Some((sandbox, client))
}

/// Writes events, each a timestamp in milliseconds and a message, in one PutLogEvents call.
pub async fn put(client: &Client, stream: &str, events: Vec<(i64, String)>) {
    let events = events
        .into_iter()
        .map(|(timestamp, message)| {
            InputLogEvent::builder()
                .timestamp(timestamp)
                .message(message)
                .build()
                .unwrap()
        })
        .collect();
    client
        .put_log_events()
        .log_group_name(LOG_GROUP)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
}

/// Writes 20 events labelled `{label} 00` to `{label} 19`, a millisecond apart, the first
/// stamped `offset_ms` from now; returns their messages and when the write finished.
pub async fn put_batch(
    client: &Client,
    stream: &str,
    label: &str,
    offset_ms: i64,
) -> (Vec<String>, Instant) {
    let first = chrono::Utc::now().timestamp_millis() + offset_ms;
    let messages: Vec<String> = (0..20).map(|n| format!("{label} {n:02}")).collect();
    let events = messages
        .iter()
        .zip(0..)
        .map(|(message, offset)| (first + offset, message.clone()))
        .collect();
    put(client, stream, events).await;
    (messages, Instant::now())
}

/// Polls `done` until it holds or `timeout` passes; says whether it held.
pub async fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Lines read from a pipe, with when each arrived.
type Lines<T> = Arc<Mutex<Vec<(Instant, T)>>>;

/// Reads `pipe` on a thread of its own, so arrival times are taken as the lines come.
fn collect_lines<T: Send + 'static>(
    pipe: impl Read + Send + 'static,
    parse: impl Fn(String) -> T + Send + 'static,
) -> Lines<T> {
    let lines: Lines<T> = Arc::default();
    let collected = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let item = parse(line);
            collected.lock().unwrap().push((Instant::now(), item));
        }
    });
    lines
}

/// `lambdactl logs --follow --output json` with what it printed so far. Killed however the
/// test ends, since it never exits by itself.
pub struct Follower {
    child: Child,
    stdout: Lines<Value>,
    stderr: Lines<String>,
}

impl Follower {
    /// The follower's command with the sandbox's variables, for a test to add its own to.
    pub fn command(sandbox: &TestSandbox) -> Command {
        let mut command = sandbox.command(binary());
        command
            .envs(sandbox.env.iter().map(|(k, v)| (k, v)))
            .args(["logs", "--follow", "--since", "1m", "--output", "json"]);
        command
    }

    /// Starts `command` (from [`Follower::command`]) with both of its outputs recorded.
    pub fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = collect_lines(child.stdout.take().unwrap(), |line| {
            serde_json::from_str::<Value>(&line)
                .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"))
        });
        let stderr = collect_lines(child.stderr.take().unwrap(), |line| line);
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Whether the follower is still running, which it must until the test kills it.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Stops the follower and waits for it, so nothing it prints comes in later.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The events shown so far, in order, each with when it arrived.
    pub fn events(&self) -> Vec<(Instant, Value)> {
        self.stdout.lock().unwrap().clone()
    }

    /// How many events were shown so far, without copying them.
    pub fn event_count(&self) -> usize {
        self.stdout.lock().unwrap().len()
    }

    /// How many times each message was shown.
    pub fn seen(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (_, event) in self.stdout.lock().unwrap().iter() {
            let message = event["message"].as_str().expect("an event has a message");
            *counts.entry(message.to_owned()).or_default() += 1;
        }
        counts
    }

    /// Whether each of `messages` was shown at least once.
    pub fn shows_all(&self, messages: &[String]) -> bool {
        let seen = self.seen();
        messages.iter().all(|message| seen.contains_key(message))
    }

    /// When the message was shown first.
    pub fn shown_at(&self, message: &str) -> Option<Instant> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .find(|(_, event)| event["message"] == message)
            .map(|(at, _)| *at)
    }

    /// The lines printed on stderr so far.
    pub fn notes(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .map(|(_, line)| line.clone())
            .collect()
    }

    /// The stderr lines so far that start with `prefix`.
    pub fn notes_starting(&self, prefix: &str) -> Vec<String> {
        self.notes()
            .into_iter()
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    /// All of stderr so far, for a failure message.
    pub fn stderr_text(&self) -> String {
        self.notes().join("\n")
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.kill();
    }
}
