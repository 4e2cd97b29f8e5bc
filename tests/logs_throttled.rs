//! Scenario K11, "throttled tail": `logs --follow` runs behind a small HTTP proxy in front of the
//! sandbox, which answers every FilterLogEvents call with a ThrottlingException while throttling
//! is switched on. The follower must say "throttled, retrying" with growing delays, poll more
//! slowly, never exit, and once throttling stops show every event written before, during and
//! after the throttled period exactly once.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;
use common::logs::{self, Follower, eventually, sandbox_with_stream};
use common::proxy::{Action, Proxy, Request, Response};

const STREAM: &str = "throttle-test";
const THROTTLED: &str = "throttled, retrying in ";

/// A FilterLogEvents call the proxy saw: when it was read, and whether it was refused.
#[derive(Debug, Clone, Copy)]
struct Poll {
    at: Instant,
    throttled: bool,
}

/// What the proxy's rule shares with the test.
#[derive(Default)]
struct Throttle {
    on: AtomicBool,
    polls: Mutex<Vec<Poll>>,
    /// The first FilterLogEvents request's line and header names as sent, for the record.
    first_poll_head: Mutex<Option<String>>,
}

impl Throttle {
    /// Records each FilterLogEvents call and, while throttling is on, refuses it as CloudWatch
    /// Logs does when an account's request rate is exceeded. Everything else goes through.
    fn rule(&self, request: &Request) -> Action {
        let is_poll = request
            .header("x-amz-target")
            .is_some_and(|target| target.ends_with(".FilterLogEvents"));
        if !is_poll {
            return Action::Forward;
        }
        let throttled = self.on.load(Ordering::SeqCst);
        let mut polls = self.polls.lock().unwrap();
        if polls.is_empty() {
            let names: Vec<&str> = request.headers().iter().map(|(n, _)| n.as_str()).collect();
            *self.first_poll_head.lock().unwrap() = Some(format!(
                "{}; header names: {}; x-amz-target: {}; content-type: {}",
                request.line(),
                names.join(", "),
                request.header("x-amz-target").unwrap_or_default(),
                request.header("content-type").unwrap_or_default(),
            ));
        }
        polls.push(Poll {
            at: Instant::now(),
            throttled,
        });
        if !throttled {
            return Action::Forward;
        }
        let body = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
        Action::Answer(
            Response::new("400 Bad Request", body)
                .header("content-type", "application/x-amz-json-1.1")
                .header("x-amzn-requestid", format!("throttled-{}", polls.len())),
        )
    }
}

/// The sandbox behind the shared proxy, refusing FilterLogEvents while throttling is on.
struct ThrottlingProxy {
    proxy: Proxy,
    throttle: Arc<Throttle>,
}

impl ThrottlingProxy {
    fn start(upstream_url: &str) -> Self {
        let throttle = Arc::new(Throttle::default());
        let deciding = throttle.clone();
        let proxy = Proxy::start(upstream_url, move |request| deciding.rule(request));
        Self { proxy, throttle }
    }

    fn url(&self) -> String {
        self.proxy.url()
    }

    fn set_throttling(&self, on: bool) {
        self.throttle.on.store(on, Ordering::SeqCst);
    }

    fn polls(&self) -> Vec<Poll> {
        self.throttle.polls.lock().unwrap().clone()
    }

    fn first_poll_head(&self) -> Option<String> {
        self.throttle.first_poll_head.lock().unwrap().clone()
    }

    /// Whatever the proxy could not relay faithfully; the test fails on any.
    fn problems(&self) -> Vec<String> {
        self.proxy.problems()
    }
}

/// The delays announced by "throttled, retrying in N s: …" lines, with the lines.
fn throttled(tail: &Follower) -> Vec<(f64, String)> {
    tail.notes()
        .into_iter()
        .filter_map(|line| {
            let (delay, _) = line.strip_prefix(THROTTLED)?.split_once(" s: ")?;
            Some((delay.parse().expect("a delay in seconds"), line))
        })
        .collect()
}

/// Writes a batch of events straight to the sandbox, each a millisecond apart; returns their
/// messages.
async fn put_batch(client: &Client, label: &str) -> Vec<String> {
    logs::put_batch(client, STREAM, label, 0).await.0
}

/// Before: the follower polls through the proxy and shows what is written. Returns the events.
async fn before_throttling(
    proxy: &ThrottlingProxy,
    client: &Client,
    tail: &Follower,
) -> Vec<String> {
    assert!(
        eventually(Duration::from_secs(20), || !proxy.polls().is_empty()).await,
        "the follower never polled through the proxy; stderr:\n{}",
        tail.stderr_text()
    );
    eprintln!(
        "first FilterLogEvents request: {}",
        proxy.first_poll_head().as_deref().unwrap_or("-")
    );
    let written = put_batch(client, "before").await;
    assert!(
        eventually(Duration::from_secs(15), || tail.shows_all(&written)).await,
        "events written before throttling were not shown; stderr:\n{}",
        tail.stderr_text()
    );
    written
}

/// During: every poll is refused for at least six seconds and two announced retries; nothing
/// written meanwhile may show, and the follower must keep running. Returns the events written.
async fn while_throttled(
    proxy: &ThrottlingProxy,
    client: &Client,
    tail: &mut Follower,
) -> Vec<String> {
    proxy.set_throttling(true);
    let throttled_from = Instant::now();
    // Events are written once the first refusal proves that no poll let through earlier is
    // still under way, so none of them may show before throttling ends.
    assert!(
        eventually(Duration::from_secs(10), || proxy
            .polls()
            .iter()
            .any(|poll| poll.throttled))
        .await,
        "no poll reached the proxy once throttling was on"
    );
    let mut during = put_batch(client, "during-a").await;
    assert!(
        eventually(Duration::from_secs(15), || !throttled(tail).is_empty()).await,
        "no \"{THROTTLED}\" line; stderr:\n{}",
        tail.stderr_text()
    );
    during.extend(put_batch(client, "during-b").await);
    // Once two retries are announced the pending delay is below 8 s, so the follower catches
    // up well inside the deadline that follows.
    assert!(
        eventually(Duration::from_secs(20), || {
            throttled_from.elapsed() >= Duration::from_secs(6) && throttled(tail).len() >= 2
        })
        .await,
        "fewer than two \"{THROTTLED}\" lines; stderr:\n{}",
        tail.stderr_text()
    );
    assert!(
        tail.is_running(),
        "the follower exited while throttled; stderr:\n{}",
        tail.stderr_text()
    );
    let seen = tail.seen();
    assert!(
        during.iter().all(|message| !seen.contains_key(message)),
        "events were shown while every poll was refused: the proxy let a poll through"
    );
    proxy.set_throttling(false);
    during
}

/// After: everything written shows up within 15 s, and two more polls go through, which would
/// show any duplicate. Returns how long catching up took.
async fn after_throttling(
    proxy: &ThrottlingProxy,
    tail: &mut Follower,
    written: &[String],
) -> Duration {
    let throttled_until = Instant::now();
    let all_shown = eventually(Duration::from_secs(15), || tail.shows_all(written)).await;
    let caught_up = throttled_until.elapsed();
    let seen = tail.seen();
    let missing: Vec<&String> = written
        .iter()
        .filter(|message| !seen.contains_key(*message))
        .collect();
    assert!(
        all_shown,
        "{} events were not shown within 15 s of throttling stopping, e.g. {:?}; stderr:\n{}",
        missing.len(),
        missing.first(),
        tail.stderr_text()
    );
    let polls_then = proxy.polls().len();
    assert!(
        eventually(Duration::from_secs(10), || {
            proxy.polls()[polls_then..]
                .iter()
                .filter(|poll| !poll.throttled)
                .count()
                >= 2
        })
        .await,
        "the follower stopped polling after throttling ended; stderr:\n{}",
        tail.stderr_text()
    );
    assert!(
        tail.is_running(),
        "the follower exited; stderr:\n{}",
        tail.stderr_text()
    );
    caught_up
}

/// The follower said it was throttled, with each delay longer than the one before.
fn check_announcements(announced: &[(f64, String)], stderr: &str) -> Vec<f64> {
    for (_, line) in announced {
        assert!(
            line.contains("ThrottlingException") && line.contains("Rate exceeded"),
            "the line names the service's refusal: {line}"
        );
    }
    let delays: Vec<f64> = announced.iter().map(|(delay, _)| *delay).collect();
    assert!(
        delays.windows(2).all(|pair| pair[1] > pair[0]),
        "each retry waits longer than the one before: {delays:?}"
    );
    assert!(
        delays.iter().all(|delay| (1.0..=60.0).contains(delay)),
        "the delays stay between the minimum and twice the maximum: {delays:?}"
    );
    assert!(
        !stderr.contains("failed, retrying"),
        "the proxy must be transparent apart from the throttling; stderr:\n{stderr}"
    );
    delays
}

/// The poll slowed down: between the refused polls, and up to the first one let through
/// again, there is a pause at least as long as each announced delay. The announced delays are
/// rounded to a tenth of a second.
fn check_pauses(polls: &[Poll], delays: &[f64]) {
    let first = polls.iter().position(|poll| poll.throttled).unwrap();
    let last = polls.iter().rposition(|poll| poll.throttled).unwrap();
    assert!(
        last + 1 < polls.len(),
        "no poll got through after throttling"
    );
    let mut gaps: Vec<Duration> = polls[first..=last + 1]
        .windows(2)
        .map(|pair| pair[1].at.duration_since(pair[0].at))
        .collect();
    gaps.sort_unstable_by(|a, b| b.cmp(a));
    let mut longest_delays = delays.to_vec();
    longest_delays.sort_unstable_by(|a, b| b.total_cmp(a));
    eprintln!("pauses between polls while throttled, longest first: {gaps:?}");
    for (gap, delay) in gaps.iter().zip(&longest_delays) {
        assert!(
            gap.as_secs_f64() >= delay - 0.1,
            "a pause of {delay} s was announced, but the pauses were {gaps:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_tail_backs_off_says_so_and_catches_up_without_exiting() {
    let Some((sandbox, client)) = sandbox_with_stream(STREAM).await else {
        return;
    };
    let proxy = ThrottlingProxy::start(sandbox.var("AWS_ENDPOINT_URL"));
    let mut tail =
        Follower::spawn(Follower::command(&sandbox).env("AWS_ENDPOINT_URL", proxy.url()));

    let mut written = before_throttling(&proxy, &client, &tail).await;
    written.extend(while_throttled(&proxy, &client, &mut tail).await);
    let announced = throttled(&tail);
    written.extend(put_batch(&client, "after").await);
    let caught_up = after_throttling(&proxy, &mut tail, &written).await;
    // Taken before the kill, which may cut a connection the proxy is serving.
    let problems = proxy.problems();
    tail.kill();

    let seen = tail.seen();
    for message in &written {
        assert_eq!(
            seen.get(message),
            Some(&1),
            "{message} must appear exactly once"
        );
    }
    assert_eq!(
        seen.values().sum::<usize>(),
        written.len(),
        "nothing else is shown: {seen:?}"
    );
    let stderr = tail.stderr_text();
    eprintln!("caught up {caught_up:?} after throttling stopped; stderr:\n{stderr}");
    let delays = check_announcements(&announced, &stderr);
    check_pauses(&proxy.polls(), &delays);
    assert!(problems.is_empty(), "the proxy failed: {problems:?}");
}
