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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::Client;
use common::TestSandbox;
use common::logs::{Follower, eventually, put_batch, sandbox_with_stream};
use common::proxy::{Action, Proxy, Response};

const STREAM: &str = "live-tail-test";
const RECONNECTED: &str = "reconnected, ";

/// The follower with `endpoint` in place of the sandbox's, and live tail left to its default
/// whatever the developer's environment says.
fn follow(sandbox: &TestSandbox, endpoint: &str) -> Follower {
    Follower::spawn(
        Follower::command(sandbox)
            .env("AWS_ENDPOINT_URL", endpoint)
            .env_remove("LAMBDACTL_LIVE_TAIL"),
    )
}

/// Writes a batch while following and checks that it is shown within 5 s; returns it for
/// [`check_shown`].
async fn put_shown_promptly(
    client: &Client,
    follower: &Follower,
    label: &str,
) -> (Vec<String>, Instant) {
    let batch = put_batch(client, STREAM, label, 0).await;
    assert!(
        eventually(Duration::from_secs(5), || follower.shows_all(&batch.0)).await,
        "{label} was not shown within 5 s; stderr:\n{}",
        follower.stderr_text()
    );
    batch
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
        .events()
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
    let Some((sandbox, client)) = sandbox_with_stream(STREAM).await else {
        return;
    };
    let (mut written, _) = put_batch(&client, STREAM, "before", -5_000).await;
    let mut follower = follow(&sandbox, sandbox.var("AWS_ENDPOINT_URL"));
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
        let batch = put_shown_promptly(&client, &follower, label).await;
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

/// The sandbox behind the shared proxy, refusing every StartLiveTail as CloudWatch Logs does
/// when an account has too many sessions open; also returns how many it refused.
fn refusing_proxy(upstream: &str) -> (Proxy, Arc<AtomicUsize>) {
    let refused = Arc::new(AtomicUsize::new(0));
    let counting = refused.clone();
    let proxy = Proxy::start(upstream, move |request| {
        let is_live_tail = request
            .header("x-amz-target")
            .is_some_and(|target| target.to_ascii_lowercase().ends_with(".startlivetail"));
        if !is_live_tail {
            return Action::Forward;
        }
        counting.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"__type":"LimitExceededException","message":"too many sessions"}"#;
        Action::Answer(
            Response::new("400 Bad Request", body)
                .header("content-type", "application/x-amz-json-1.1"),
        )
    });
    (proxy, refused)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_live_tail_says_so_polls_and_does_not_ask_again_at_once() {
    let Some((sandbox, client)) = sandbox_with_stream(STREAM).await else {
        return;
    };
    let (proxy, refused) = refusing_proxy(sandbox.var("AWS_ENDPOINT_URL"));
    let mut follower = follow(&sandbox, &proxy.url());

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
        let batch = put_shown_promptly(&client, &follower, label).await;
        written.extend(batch.0.iter().cloned());
        prompt.push(batch);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    follower.kill();

    check_shown(&follower, &written, &prompt);
    assert_eq!(
        refused.load(Ordering::SeqCst),
        1,
        "live tail is asked for once, then not for minutes"
    );
    assert_eq!(
        follower.notes(),
        [refusal],
        "the refusal is the one note; nothing failed"
    );
    // Shown, not asserted: the kill may have cut a connection the proxy was serving.
    for problem in proxy.problems() {
        eprintln!("the proxy failed: {problem}");
    }
}
