//! Following a log group by polling `FilterLogEvents`. Each poll starts a little before the
//! newest event already seen, so events ingested late and the rest of a same-millisecond burst
//! are fetched again; the event id then keeps every event to exactly one appearance.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

use crate::model::LogEvent;

/// How far before the newest seen event each poll starts, by default.
pub const DEFAULT_OVERLAP: Duration = Duration::seconds(60);

/// What has been seen, and where the next poll starts.
#[derive(Debug, Clone)]
pub struct TailCursor {
    start: DateTime<Utc>,
    overlap: Duration,
    newest: Option<DateTime<Utc>>,
    /// Ids of the events inside the overlap window, with their times, for pruning.
    seen: HashMap<String, DateTime<Utc>>,
}

impl TailCursor {
    pub fn new(since: DateTime<Utc>, overlap: Duration) -> Self {
        Self {
            start: since,
            overlap,
            newest: None,
            seen: HashMap::new(),
        }
    }

    /// Where the next poll starts: the overlap before the newest event, never before `since`.
    pub fn next_start(&self) -> DateTime<Utc> {
        self.newest
            .map_or(self.start, |newest| (newest - self.overlap).max(self.start))
    }

    /// Keeps the events not seen before, in time order, and remembers them.
    pub fn accept(&mut self, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let mut fresh: Vec<LogEvent> = events
            .into_iter()
            .filter(|event| !self.seen.contains_key(&identity(event)))
            .collect();
        fresh.sort_by(|a, b| {
            a.timestamp
                .cmp(&b.timestamp)
                .then_with(|| identity(a).cmp(&identity(b)))
        });
        fresh.dedup_by(|a, b| identity(a) == identity(b));
        for event in &fresh {
            self.seen.insert(identity(event), event.timestamp);
            self.newest = self.newest.max(Some(event.timestamp));
        }
        // Ids older than any future poll can return are no longer needed.
        let horizon = self.next_start();
        self.seen.retain(|_, at| *at >= horizon);
        fresh
    }
}

/// The event id, or, for a source without ids, what makes an event itself.
fn identity(event: &LogEvent) -> String {
    event.event_id.clone().unwrap_or_else(|| {
        format!(
            "{}\0{}\0{}",
            event.stream,
            event.timestamp.timestamp_millis(),
            event.message
        )
    })
}

/// A bounded, time-ordered buffer of followed events: late events are put in their place, and
/// the oldest fall out once it is full.
#[derive(Debug, Clone)]
pub struct TailBuffer {
    events: VecDeque<LogEvent>,
    capacity: usize,
}

impl TailBuffer {
    pub fn new(capacity: usize) -> Self {
        Self {
            events: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Adds events (already de-duplicated) in time order.
    pub fn extend(&mut self, events: impl IntoIterator<Item = LogEvent>) {
        for event in events {
            let at = self
                .events
                .partition_point(|held| held.timestamp <= event.timestamp);
            self.events.insert(at, event);
            if self.events.len() > self.capacity {
                self.events.pop_front();
            }
        }
    }

    pub fn events(&self) -> &VecDeque<LogEvent> {
        &self.events
    }
}

/// The console's merged live view of the log group.
#[derive(Debug, Clone)]
pub struct LiveTail {
    pub buffer: TailBuffer,
    /// Why the tail is not live right now, e.g. "throttled, retrying in 2.1 s".
    pub waiting: Option<String>,
    /// Whether the view keeps to the newest event.
    pub following: bool,
    /// A local search, matched case-insensitively against messages.
    pub search: Option<String>,
    /// A CloudWatch filter pattern, sent to the service.
    pub filter: Option<String>,
    /// Whether long messages wrap instead of being cut.
    pub wrap: bool,
    /// Columns of each message scrolled off to the left, when not wrapping.
    pub scroll: usize,
}

impl LiveTail {
    pub fn new(capacity: usize) -> Self {
        Self {
            buffer: TailBuffer::new(capacity),
            waiting: None,
            search: None,
            filter: None,
            wrap: false,
            scroll: 0,
            following: true,
        }
    }

    pub fn len(&self) -> usize {
        self.buffer.events().len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.events().is_empty()
    }

    /// The next event after `from` (or before it, going back) whose message holds the search,
    /// wrapping around the buffer.
    pub fn find(&self, from: usize, forward: bool) -> Option<usize> {
        let needle = self.search.as_deref()?.to_ascii_lowercase();
        let events = self.buffer.events();
        let len = events.len();
        (1..=len)
            .map(|step| {
                if forward {
                    (from + step) % len
                } else {
                    (from + len * 2 - step) % len
                }
            })
            .find(|&index| events[index].message.to_ascii_lowercase().contains(&needle))
    }
}

/// How many events the live view keeps unless configured otherwise.
pub const DEFAULT_BUFFER_LINES: usize = 100_000;

/// How often a healthy tail polls.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// What a follower reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailUpdate {
    /// New events, each seen once, in time order.
    Events(Vec<LogEvent>),
    /// A poll failed; the next comes after `retry_in`. Throttling is told apart, since it is
    /// expected when several consoles tail one account.
    Waiting {
        throttled: bool,
        retry_in: std::time::Duration,
        reason: String,
    },
}

/// Polls the log group, reporting each change through `emit`, until `emit` says to stop or the
/// caller drops the future. Failures slow the polling with jittered exponential backoff and
/// never end it.
pub async fn follow(
    clients: &crate::aws::AwsClients,
    log_group: &str,
    filter_pattern: Option<String>,
    since: DateTime<Utc>,
    mut emit: impl FnMut(TailUpdate) -> std::ops::ControlFlow<()>,
) {
    use backon::BackoffBuilder;

    let backoff = || {
        backon::ExponentialBuilder::default()
            .with_min_delay(std::time::Duration::from_secs(1))
            // backon adds up to the same again as jitter, so waits stay under 30 s.
            .with_max_delay(std::time::Duration::from_secs(15))
            .with_jitter()
            .without_max_times()
            .build()
    };
    let mut cursor = TailCursor::new(since, DEFAULT_OVERLAP);
    let mut delays = backoff();
    let mut failing = false;
    loop {
        let query = crate::aws::EventQuery {
            since: Some(cursor.next_start()),
            filter_pattern: filter_pattern.clone(),
            limit: None,
            polling: true,
        };
        let pause = match clients.filter_events(log_group, &query).await {
            Ok(events) => {
                let fresh = cursor.accept(events);
                // After a failure even an empty answer is news: the tail is live again.
                if (!fresh.is_empty() || failing) && emit(TailUpdate::Events(fresh)).is_break() {
                    return;
                }
                failing = false;
                delays = backoff();
                POLL_INTERVAL
            }
            Err(error) => {
                let retry_in = delays.next().unwrap_or(std::time::Duration::from_secs(30));
                let throttled = error.is_throttling();
                failing = true;
                let waiting = TailUpdate::Waiting {
                    throttled,
                    retry_in,
                    reason: error.to_string(),
                };
                if emit(waiting).is_break() {
                    return;
                }
                retry_in
            }
        };
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: u32, millis: i64) -> LogEvent {
        LogEvent {
            timestamp: DateTime::from_timestamp_millis(1_700_000_000_000 + millis).unwrap(),
            stream: "s".into(),
            message: format!("event {id}"),
            event_id: Some(id.to_string()),
        }
    }

    fn since() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000).unwrap()
    }

    #[test]
    fn overlapping_polls_show_each_event_once() {
        let mut cursor = TailCursor::new(since(), Duration::seconds(10));
        let first = cursor.accept(vec![event(1, 100), event(2, 200)]);
        assert_eq!(first.len(), 2);
        assert_eq!(
            cursor.next_start(),
            since(),
            "the window never starts before since"
        );
        let second = cursor.accept(vec![event(1, 100), event(2, 200), event(3, 300)]);
        assert_eq!(second, vec![event(3, 300)]);
    }

    #[test]
    fn a_same_millisecond_burst_split_across_polls_is_complete_and_unique() {
        let mut cursor = TailCursor::new(since(), Duration::seconds(5));
        let burst: Vec<_> = (0..500).map(|id| event(id, 1_000)).collect();
        let mut shown = cursor.accept(burst[..200].to_vec());
        shown.extend(cursor.accept(burst.clone()));
        assert_eq!(shown.len(), 500);
        let mut ids: Vec<_> = shown.iter().map(|e| e.event_id.clone().unwrap()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 500);
    }

    #[test]
    fn late_events_inside_the_overlap_are_caught_and_the_window_follows_the_newest() {
        let mut cursor = TailCursor::new(since(), Duration::seconds(30));
        cursor.accept(vec![event(1, 60_000)]);
        assert_eq!(cursor.next_start(), since() + Duration::seconds(30));
        let late = cursor.accept(vec![event(2, 45_000), event(1, 60_000)]);
        assert_eq!(late, vec![event(2, 45_000)]);
    }

    #[test]
    fn the_buffer_keeps_time_order_and_its_bound() {
        let mut buffer = TailBuffer::new(3);
        buffer.extend([event(1, 10), event(3, 30)]);
        buffer.extend([event(2, 20)]);
        let ids: Vec<_> = buffer.events().iter().map(|e| e.message.as_str()).collect();
        assert_eq!(ids, ["event 1", "event 2", "event 3"]);
        buffer.extend([event(4, 40)]);
        assert_eq!(buffer.events().len(), 3);
        assert_eq!(buffer.events()[0].message, "event 2", "the oldest fell out");
    }
}
