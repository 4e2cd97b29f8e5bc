//! `logs --follow` against a real sandbox: while it runs, events are written through the SDK (a
//! burst in one millisecond, a steady stream, and late events older than ones already shown, 20,000
//! in all); each must appear exactly once, promptly.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::logs::{Follower, eventually, put, sandbox_with_stream};

const STREAM: &str = "tail-test";

#[tokio::test(flavor = "multi_thread")]
async fn following_shows_every_event_exactly_once_and_promptly() {
    let Some((sandbox, client)) = sandbox_with_stream(STREAM).await else {
        return;
    };

    let mut follower = Follower::spawn(&mut Follower::command(&sandbox));
    tokio::time::sleep(Duration::from_secs(2)).await;

    let now = chrono::Utc::now().timestamp_millis();
    let mut written: HashMap<String, Instant> = HashMap::new();
    let burst: Vec<_> = (0..500).map(|n| (now, format!("burst {n:03}"))).collect();
    put(&client, STREAM, burst.clone()).await;
    written.extend(
        burst
            .into_iter()
            .map(|(_, message)| (message, Instant::now())),
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The rest of the 20,000: a steady stream, written in batches PutLogEvents accepts.
    let steady: Vec<_> = (0..19_495)
        .map(|n| (now + 10 + n / 20, format!("steady {n:05}")))
        .collect();
    for batch in steady.chunks(6_500) {
        put(&client, STREAM, batch.to_vec()).await;
        let at = Instant::now();
        written.extend(batch.iter().map(|(_, message)| (message.clone(), at)));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Ingested now, but stamped before events already shown.
    let late: Vec<_> = (0..5)
        .map(|n| (now - 20_000 + n, format!("late {n}")))
        .collect();
    put(&client, STREAM, late.clone()).await;
    written.extend(
        late.into_iter()
            .map(|(_, message)| (message, Instant::now())),
    );

    // Whether all arrived is not asserted here: the counts below name what is missing.
    eventually(Duration::from_secs(30), || {
        follower.event_count() >= written.len()
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // room for duplicates to show up
    follower.kill();

    let seen = follower.events();
    let counts = follower.seen();
    for message in written.keys() {
        assert_eq!(
            counts.get(message),
            Some(&1),
            "{message} must appear exactly once"
        );
    }
    assert_eq!(seen.len(), written.len(), "nothing else and nothing twice");
    for (arrived, event) in &seen {
        let message = event["message"].as_str().unwrap();
        let lag = arrived.duration_since(written[message]);
        assert!(lag < Duration::from_secs(5), "{message} took {lag:?}");
    }
    let in_time: Vec<_> = seen
        .iter()
        .filter(|(_, event)| !event["message"].as_str().unwrap().starts_with("late"))
        .map(|(_, event)| event["timestamp"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        in_time.windows(2).all(|pair| pair[0] <= pair[1]),
        "events come in time order"
    );
}
