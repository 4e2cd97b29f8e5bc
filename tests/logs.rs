//! `logs --follow` against a real sandbox: while it runs, events are written through the SDK (a
//! burst in one millisecond, a steady stream, and late events older than ones already shown, 20,000
//! in all); each must appear exactly once, promptly.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use common::{TestSandbox, binary};
use serde_json::Value;

const LOG_GROUP: &str = "/aws/lambda/python-lambda";

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

async fn put(client: &aws_sdk_cloudwatchlogs::Client, stream: &str, events: Vec<(i64, String)>) {
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

/// What the follower printed, with when each line arrived.
type Seen = Arc<Mutex<Vec<(Instant, Value)>>>;

#[tokio::test(flavor = "multi_thread")]
async fn following_shows_every_event_exactly_once_and_promptly() {
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    let client = logs_client(&sandbox).await;
    client
        .create_log_stream()
        .log_group_name(LOG_GROUP)
        .log_stream_name("tail-test")
        .send()
        .await
        .unwrap();

    let mut follower = sandbox
        .command(binary())
        .envs(sandbox.env.iter().map(|(k, v)| (k, v)))
        .args(["logs", "--follow", "--since", "1m", "--output", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen: Seen = Arc::default();
    let reader_seen = seen.clone();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let value: Value = serde_json::from_str(&line).expect("a JSON line");
            reader_seen.lock().unwrap().push((Instant::now(), value));
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;

    let now = chrono::Utc::now().timestamp_millis();
    let mut written: HashMap<String, Instant> = HashMap::new();
    let burst: Vec<_> = (0..500).map(|n| (now, format!("burst {n:03}"))).collect();
    put(&client, "tail-test", burst.clone()).await;
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
        put(&client, "tail-test", batch.to_vec()).await;
        let at = Instant::now();
        written.extend(batch.iter().map(|(_, message)| (message.clone(), at)));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Ingested now, but stamped before events already shown.
    let late: Vec<_> = (0..5)
        .map(|n| (now - 20_000 + n, format!("late {n}")))
        .collect();
    put(&client, "tail-test", late.clone()).await;
    written.extend(
        late.into_iter()
            .map(|(_, message)| (message, Instant::now())),
    );

    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().len() < written.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // room for duplicates to show up
    let _ = follower.kill();
    let _ = follower.wait();

    let seen = seen.lock().unwrap();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for (_, event) in seen.iter() {
        *counts
            .entry(event["message"].as_str().unwrap())
            .or_default() += 1;
    }
    for message in written.keys() {
        assert_eq!(
            counts.get(message.as_str()),
            Some(&1),
            "{message} must appear exactly once"
        );
    }
    assert_eq!(seen.len(), written.len(), "nothing else and nothing twice");
    for (arrived, event) in seen.iter() {
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
