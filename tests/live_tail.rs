//! Scenarios K12 and K13 against a real sandbox: `logs --follow` uses CloudWatch Logs live tail
//! where the endpoint offers it. moto's StartLiveTail answers with one snapshot of the group
//! (its oldest 500 events) and ends the stream, so every session there "ends quietly": the
//! follower must poll in between, reconnect with backoff, say "reconnected, N backfilled", and
//! never show an event twice although each snapshot repeats what was already shown. A small
//! proxy that refuses StartLiveTail with LimitExceededException checks the fallback to polling.
//!
//! A moto older than 5.2.5 has no StartLiveTail at all (it answers HTTP 500); then the first
//! test checks that the follower says so and polls, and skips the reconnection checks.

mod common;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use common::{TestSandbox, binary};
use serde_json::Value;

const LOG_GROUP: &str = "/aws/lambda/python-lambda";
const STREAM: &str = "live-tail-test";
const RECONNECTED: &str = "reconnected, ";

async fn logs_client(sandbox: &TestSandbox) -> aws_sdk_cloudwatchlogs::Client {
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
    aws_sdk_cloudwatchlogs::Client::new(&config)
}

async fn create_stream(client: &aws_sdk_cloudwatchlogs::Client) {
    client
        .create_log_stream()
        .log_group_name(LOG_GROUP)
        .log_stream_name(STREAM)
        .send()
        .await
        .expect("CreateLogStream");
}

/// Writes 20 events a millisecond apart, the first stamped `offset_ms` from now; returns their
/// messages and when they were written.
async fn put_batch(
    client: &aws_sdk_cloudwatchlogs::Client,
    label: &str,
    offset_ms: i64,
) -> (Vec<String>, Instant) {
    let first = chrono::Utc::now().timestamp_millis() + offset_ms;
    let messages: Vec<String> = (0..20).map(|n| format!("{label} {n:02}")).collect();
    let events = messages
        .iter()
        .zip(0..)
        .map(|(message, offset)| {
            InputLogEvent::builder()
                .timestamp(first + offset)
                .message(message)
                .build()
                .unwrap()
        })
        .collect();
    client
        .put_log_events()
        .log_group_name(LOG_GROUP)
        .log_stream_name(STREAM)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("PutLogEvents");
    (messages, Instant::now())
}

/// Lines read from a pipe, with when each arrived.
type Lines<T> = Arc<Mutex<Vec<(Instant, T)>>>;

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

/// `lambdactl logs --follow`, killed however the test ends.
struct Follower {
    child: Child,
    stdout: Lines<Value>,
    stderr: Lines<String>,
}

impl Follower {
    fn start(sandbox: &TestSandbox, endpoint: &str) -> Self {
        let mut child = sandbox
            .command(binary())
            .envs(sandbox.env.iter().map(|(k, v)| (k, v)))
            .env("AWS_ENDPOINT_URL", endpoint)
            .env_remove("LAMBDACTL_LIVE_TAIL")
            .args(["logs", "--follow", "--since", "1m", "--output", "json"])
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

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How many times each message was shown.
    fn seen(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (_, event) in self.stdout.lock().unwrap().iter() {
            let message = event["message"].as_str().expect("an event has a message");
            *counts.entry(message.to_owned()).or_default() += 1;
        }
        counts
    }

    fn shows_all(&self, messages: &[String]) -> bool {
        let seen = self.seen();
        messages.iter().all(|message| seen.contains_key(message))
    }

    /// When the message was shown first.
    fn shown_at(&self, message: &str) -> Option<Instant> {
        self.stdout
            .lock()
            .unwrap()
            .iter()
            .find(|(_, event)| event["message"] == message)
            .map(|(at, _)| *at)
    }

    fn notes(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap()
            .iter()
            .map(|(_, line)| line.clone())
            .collect()
    }

    fn notes_starting(&self, prefix: &str) -> Vec<String> {
        self.notes()
            .into_iter()
            .filter(|line| line.starts_with(prefix))
            .collect()
    }

    fn stderr_text(&self) -> String {
        self.notes().join("\n")
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `done` until it holds or `timeout` passes; says whether it held.
async fn eventually(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
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

/// Each written message shown exactly once, nothing else, all in time order, and each batch
/// written while following shown within 5 s of being written.
fn check_shown(follower: &Follower, written: &[String], prompt: &[(Vec<String>, Instant)]) {
    let seen = follower.seen();
    for message in written {
        assert_eq!(
            seen.get(message),
            Some(&1),
            "{message} must appear exactly once; stderr:\n{}",
            follower.stderr_text()
        );
    }
    assert_eq!(
        seen.values().sum::<usize>(),
        written.len(),
        "nothing else is shown: {seen:?}"
    );
    let times: Vec<String> = follower
        .stdout
        .lock()
        .unwrap()
        .iter()
        .map(|(_, event)| event["timestamp"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] <= pair[1]),
        "events come in time order: {times:?}"
    );
    for (messages, written_at) in prompt {
        for message in messages {
            let lag = follower
                .shown_at(message)
                .unwrap()
                .duration_since(*written_at);
            assert!(lag < Duration::from_secs(5), "{message} took {lag:?}");
        }
    }
}

/// The N of every "reconnected, N backfilled" note.
fn backfilled_counts(notes: &[String]) -> Vec<usize> {
    notes
        .iter()
        .map(|note| {
            note.strip_prefix(RECONNECTED)
                .and_then(|rest| rest.strip_suffix(" backfilled"))
                .and_then(|count| count.parse().ok())
                .unwrap_or_else(|| panic!("a reconnection note names a count: {note}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn live_tail_sessions_that_end_reconnect_backfill_and_show_each_event_once() {
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    let client = logs_client(&sandbox).await;
    create_stream(&client).await;
    let (mut written, _) = put_batch(&client, "before", -5_000).await;
    let mut follower = Follower::start(&sandbox, sandbox.var("AWS_ENDPOINT_URL"));
    let started = Instant::now();

    assert!(
        eventually(Duration::from_secs(20), || !follower.notes().is_empty()).await,
        "the follower said nothing about live tail"
    );
    let first = follower.notes()[0].clone();
    let live = first == "live tail connected";
    if !live {
        assert!(
            first.starts_with("live tail unavailable (HTTP 500"),
            "the first note is the connection or its fallback: {first}"
        );
        eprintln!("this moto has no StartLiveTail; checking the fallback to polling only");
    }
    assert!(
        eventually(Duration::from_secs(10), || follower.shows_all(&written)).await,
        "events written before following were not shown; stderr:\n{}",
        follower.stderr_text()
    );

    let mut prompt = Vec::new();
    for (label, reconnections) in [("during-1", 1), ("during-2", 2)] {
        let batch = put_batch(&client, label, 0).await;
        assert!(
            eventually(Duration::from_secs(5), || follower.shows_all(&batch.0)).await,
            "{label} was not shown within 5 s; stderr:\n{}",
            follower.stderr_text()
        );
        written.extend(batch.0.iter().cloned());
        prompt.push(batch);
        // Reconnections come 2 s, then 4 s, after the sessions end; each snapshot repeats
        // every event already shown.
        if live {
            assert!(
                eventually(Duration::from_secs(15), || {
                    follower.notes_starting(RECONNECTED).len() >= reconnections
                })
                .await,
                "no \"{RECONNECTED}N backfilled\" note after a session ended; stderr:\n{}",
                follower.stderr_text()
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // room for duplicates to show up
    let following = started.elapsed();
    follower.kill();

    check_shown(&follower, &written, &prompt);
    let stderr = follower.stderr_text();
    eprintln!("followed for {following:?}; stderr:\n{stderr}");
    if live {
        let backfilled = backfilled_counts(&follower.notes_starting(RECONNECTED));
        assert!(
            backfilled.iter().sum::<usize>() <= written.len(),
            "only shown events are counted as backfilled: {backfilled:?}"
        );
        let sessions = follower.notes_starting("live tail ended").len();
        // Reconnecting 2, 4, 8 s after each snapshot: a handful of sessions, not one a second.
        assert!(
            (2..=6).contains(&sessions),
            "{sessions} sessions in {following:?}; stderr:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("retrying"),
        "no poll failed; stderr:\n{stderr}"
    );
}

/// A relay on loopback in front of the sandbox, one request per connection, that refuses
/// every StartLiveTail as CloudWatch Logs does when an account has too many sessions open.
struct RefusingProxy {
    address: SocketAddr,
    refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl RefusingProxy {
    fn start(upstream_url: &str) -> Self {
        let upstream = upstream_url
            .strip_prefix("http://")
            .expect("the sandbox endpoint is plain HTTP")
            .trim_end_matches('/')
            .to_socket_addrs()
            .expect("the sandbox endpoint resolves")
            .next()
            .expect("the sandbox endpoint has an address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let refused = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counting, stopping) = (refused.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let counting = counting.clone();
                        std::thread::spawn(move || {
                            if let Err(error) = relay(client, upstream, &counting) {
                                eprintln!("the proxy failed to relay: {error}");
                            }
                        });
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(error) => panic!("the proxy failed to accept: {error}"),
                }
            }
        });
        Self {
            address,
            refused,
            stop,
        }
    }
}

impl Drop for RefusingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Relays one request: the head with `connection: close`, the body by its length, then the
/// answer until upstream closes. The client's connection closes after it.
fn relay(mut client: TcpStream, upstream: SocketAddr, refused: &AtomicUsize) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let (mut head, mut length, mut target) = (String::new(), 0, String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        } else if let Some(value) = lower.strip_prefix("x-amz-target:") {
            value.trim().clone_into(&mut target);
        }
        if !lower.starts_with("connection:") {
            head.push_str(&line);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if target.ends_with(".startlivetail") {
        refused.fetch_add(1, Ordering::SeqCst);
        let answer = r#"{"__type":"LimitExceededException","message":"too many sessions"}"#;
        return write!(
            client,
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
    }
    let mut sending = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))?;
    sending.write_all(format!("{head}connection: close\r\n\r\n").as_bytes())?;
    sending.write_all(&body)?;
    let mut answer = BufReader::new(sending);
    loop {
        let mut line = String::new();
        if answer.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if line == "\r\n" {
            client.write_all(b"connection: close\r\n\r\n")?;
            break;
        }
        if !line.to_ascii_lowercase().starts_with("connection:") {
            client.write_all(line.as_bytes())?;
        }
    }
    io::copy(&mut answer, &mut client)?;
    client.flush()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_live_tail_says_so_polls_and_does_not_ask_again_at_once() {
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    let client = logs_client(&sandbox).await;
    create_stream(&client).await;
    let proxy = RefusingProxy::start(sandbox.var("AWS_ENDPOINT_URL"));
    let mut follower = Follower::start(&sandbox, &format!("http://{}", proxy.address));

    let refusal = "live tail refused (LimitExceededException); polling, trying it again in 5 min";
    assert!(
        eventually(Duration::from_secs(20), || follower
            .notes()
            .iter()
            .any(|note| note == refusal))
        .await,
        "no refusal note; stderr:\n{}",
        follower.stderr_text()
    );
    let mut written = Vec::new();
    let mut prompt = Vec::new();
    for label in ["polled-1", "polled-2"] {
        let batch = put_batch(&client, label, 0).await;
        assert!(
            eventually(Duration::from_secs(5), || follower.shows_all(&batch.0)).await,
            "{label} was not shown within 5 s; stderr:\n{}",
            follower.stderr_text()
        );
        written.extend(batch.0.iter().cloned());
        prompt.push(batch);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    follower.kill();

    check_shown(&follower, &written, &prompt);
    assert_eq!(
        proxy.refused.load(Ordering::SeqCst),
        1,
        "live tail is asked for once, then not for minutes"
    );
    assert_eq!(
        follower.notes(),
        [refusal],
        "the refusal is the one note; nothing failed"
    );
}
