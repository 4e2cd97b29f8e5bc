//! Following a log group. Where the endpoint offers it, a CloudWatch Logs live-tail session
//! (`StartLiveTail`) pushes new events about once a second; where it does not, and around
//! sessions, `FilterLogEvents` is polled every second.
//!
//! Each poll starts a little before the newest event already seen ([`RECENT_OVERLAP`]), so the
//! rest of a same-millisecond burst and events a few seconds late are fetched again; every
//! [`SWEEP_EVERY`]th poll reaches back the whole window ([`DEFAULT_OVERLAP`]) for events ingested
//! later than that. The cursor then keeps every event to exactly one appearance. Live-tail events carry no event id, so while live tail may be used
//! the cursor tells events apart by stream, timestamp and message, which a session and a poll
//! share.
//!
//! A refused live tail (`LimitExceededException`, `AccessDeniedException`, an endpoint without
//! the operation) falls back to polling and is asked for again after [`LIVE_TAIL_RETRY`]. When
//! a session ends (its three-hour timeout, a connection gone quiet, a sampled burst, or the
//! sandbox's stand-in, whose session is one snapshot that ends at once) the follower polls
//! straight away, which fills the gap, keeps polling, and reconnects with backoff; each new
//! session starts with one more poll for the moments before it, then says "reconnected, N
//! backfilled". `LAMBDACTL_LIVE_TAIL=off` keeps to polling.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::aws::{AwsClients, AwsError, LiveTailMessage, LiveTailSession, LiveTailUnavailable};
use crate::model::LogEvent;
use crate::text::shown_text;

/// How far before the newest seen event a sweep starts, by default: an event ingested up to this
/// late is still shown.
pub const DEFAULT_OVERLAP: Duration = Duration::seconds(60);

/// How far before the newest seen event an ordinary poll starts: the rest of a same-millisecond
/// burst, and the usual ingestion delay of a few seconds. Reaching back the whole window every
/// second would read a busy group's last minute on each poll (120,000 events at 2,000 a second,
/// a dozen pages), against FilterLogEvents' low per-account request quota.
pub const RECENT_OVERLAP: Duration = Duration::seconds(10);

/// Every this many polls, one is a sweep of the whole window.
pub const SWEEP_EVERY: u32 = 10;

/// Whether the poll numbered `poll` (from 0) reaches back the whole window: the first, every
/// [`SWEEP_EVERY`]th, and the first after a failure, which may have hidden late events for a
/// while.
pub fn is_sweep(poll: u32, after_failure: bool) -> bool {
    after_failure || poll.is_multiple_of(SWEEP_EVERY)
}

/// How the cursor tells one event from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The event id, which only `FilterLogEvents` gives: enough for pure polling.
    EventId,
    /// Stream, timestamp (to the millisecond) and message: what a live-tail event and the same
    /// event fetched by a poll have in common. The consequence: identical lines written to the
    /// same stream in the same millisecond are one event to the cursor, and show once.
    Content,
}

/// What has been seen, and where the next poll starts.
#[derive(Debug, Clone)]
pub struct TailCursor {
    start: DateTime<Utc>,
    overlap: Duration,
    newest: Option<DateTime<Utc>>,
    identity: Identity,
    /// Digests of the identities of the events inside the overlap window, with their times,
    /// for pruning.
    seen: HashMap<IdentityDigest, DateTime<Utc>>,
}

impl TailCursor {
    /// A cursor that tells events apart by their ids, for pure polling.
    pub fn new(since: DateTime<Utc>, overlap: Duration) -> Self {
        Self::with_identity(since, overlap, Identity::EventId)
    }

    pub fn with_identity(since: DateTime<Utc>, overlap: Duration, identity: Identity) -> Self {
        Self {
            start: since,
            overlap,
            newest: None,
            identity,
            seen: HashMap::new(),
        }
    }

    /// Where a sweep starts: the overlap before the newest event, never before `since`. A
    /// backfill after a live-tail session starts here too, so it covers the session's last
    /// moments as well as the gap.
    pub fn window_start(&self) -> DateTime<Utc> {
        self.start_before_newest(self.overlap)
    }

    /// Where an ordinary poll starts: [`RECENT_OVERLAP`] before the newest event, never before
    /// the window.
    pub fn recent_start(&self) -> DateTime<Utc> {
        self.start_before_newest(RECENT_OVERLAP.min(self.overlap))
    }

    fn start_before_newest(&self, overlap: Duration) -> DateTime<Utc> {
        self.newest
            .map_or(self.start, |newest| (newest - overlap).max(self.start))
    }

    /// Keeps the events not seen before, in time order, and remembers them. Events older than
    /// [`window_start`](Self::window_start) are dropped: a poll never fetches them, and a live-tail
    /// session could bring one again after the cursor forgot it (the sandbox's stand-in sends
    /// the group's oldest events with every session). So a live-tail event stamped more than
    /// the overlap before the newest one seen is not shown, as polling would not show it.
    pub fn accept(&mut self, events: Vec<LogEvent>) -> Vec<LogEvent> {
        let horizon = self.window_start().timestamp_millis();
        let identity = self.identity;
        // Only a digest per event is made, as most events of a poll were seen before.
        let mut fresh: Vec<(IdentityDigest, LogEvent)> = events
            .into_iter()
            .filter(|event| event.timestamp.timestamp_millis() >= horizon)
            .map(|event| (EventKey::of(identity, &event).digest(), event))
            .filter(|(digest, _)| !self.seen.contains_key(digest))
            .collect();
        fresh.sort_by(|(_, a), (_, b)| {
            a.timestamp
                .cmp(&b.timestamp)
                .then_with(|| EventKey::of(identity, a).cmp(&EventKey::of(identity, b)))
        });
        // Equal identities have equal times, so the sort put them side by side.
        fresh.dedup_by(|(a, _), (b, _)| a == b);
        for (digest, event) in &fresh {
            self.seen.insert(*digest, event.timestamp);
            self.newest = self.newest.max(Some(event.timestamp));
        }
        // Identities older than any future poll can return are no longer needed.
        let horizon = self.window_start();
        self.seen.retain(|_, at| *at >= horizon);
        fresh.into_iter().map(|(_, event)| event).collect()
    }

    /// How many identities the cursor holds: those of the events inside the overlap window.
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// What the cursor keeps of an identity: the first 128 bits of its SHA-256. A content identity
/// holds the whole message, and a busy group puts a hundred thousand events in a 60 s window,
/// so keeping the text would cost as much memory as the messages. Log lines can be written by
/// anyone who can reach the function, so the hash must resist crafted collisions (a line made
/// to collide with another would hide it); a fast non-cryptographic hash would not.
type IdentityDigest = [u8; 16];

/// The event's identity: its id when told apart by ids and it has one, else what makes an
/// event itself. Its order puts a same-millisecond burst the same way every time.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum EventKey<'a> {
    Id(&'a str),
    Content {
        stream: &'a str,
        millis: i64,
        message: &'a str,
    },
}

impl<'a> EventKey<'a> {
    fn of(identity: Identity, event: &'a LogEvent) -> Self {
        match (identity, &event.event_id) {
            (Identity::EventId, Some(id)) => Self::Id(id),
            _ => Self::Content {
                stream: &event.stream,
                millis: event.timestamp.timestamp_millis(),
                message: &event.message,
            },
        }
    }

    fn digest(&self) -> IdentityDigest {
        let mut hasher = Sha256::new();
        match self {
            Self::Id(id) => {
                hasher.update(b"id");
                hasher.update(id.as_bytes());
            }
            Self::Content {
                stream,
                millis,
                message,
            } => {
                // Lengths first, so no two different triples hash the same bytes.
                hasher.update(b"content");
                hasher.update((stream.len() as u64).to_be_bytes());
                hasher.update(stream.as_bytes());
                hasher.update(millis.to_be_bytes());
                hasher.update(message.as_bytes());
            }
        }
        let mut digest = [0; 16];
        digest.copy_from_slice(&hasher.finalize()[..16]);
        digest
    }
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
    /// What the title says about the follower: why the tail is not live right now, e.g.
    /// "throttled, retrying in 2.1 s", or else its latest note.
    pub waiting: Option<String>,
    /// The follower's latest note, e.g. "reconnected, 3 backfilled", shown again once a
    /// failure clears.
    pub note: Option<String>,
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
            note: None,
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

    /// The follower noted something, e.g. "live tail refused (LimitExceededException);
    /// polling": the title shows it until the next note or failure.
    pub fn show_note(&mut self, note: String) {
        self.waiting = Some(note.clone());
        self.note = Some(note);
    }

    /// Events (maybe none) arrived: the tail is live, and the title goes back to the note.
    pub fn live_again(&mut self) {
        self.waiting.clone_from(&self.note);
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.events().is_empty()
    }

    /// The next event after `from` (or before it, going back) whose message, as shown, holds the
    /// search, wrapping around the buffer. The shown text is searched, as the view highlights
    /// it there: text hidden by a carriage return is not found, a word split by a colour code is.
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
            .find(|&index| {
                shown_text(&events[index].message)
                    .to_ascii_lowercase()
                    .contains(&needle)
            })
    }
}

/// How many events the live view keeps unless configured otherwise.
pub const DEFAULT_BUFFER_LINES: usize = 100_000;

/// How often a healthy tail polls.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How long the follower polls after the endpoint refused live tail before asking again.
pub const LIVE_TAIL_RETRY: std::time::Duration = std::time::Duration::from_mins(5);

/// The first wait before reconnecting after a session ended; it doubles while sessions stay
/// short, up to [`RECONNECT_MAX`], so a stand-in whose sessions end at once is not hammered.
pub const RECONNECT_MIN: std::time::Duration = std::time::Duration::from_secs(2);
/// The longest wait before reconnecting.
pub const RECONNECT_MAX: std::time::Duration = std::time::Duration::from_mins(1);

/// A session that lasted this long ended for a reason of its own (the three-hour timeout, a
/// dropped connection): the next reconnection waits [`RECONNECT_MIN`] again.
pub const STABLE_SESSION: std::time::Duration = std::time::Duration::from_mins(1);

/// The service sends an update every second, empty when nothing was ingested; a session this
/// quiet has lost its connection.
pub const SESSION_SILENCE: std::time::Duration = std::time::Duration::from_secs(20);

/// The environment variable that keeps the follower to polling when set to `off` (or `0`,
/// `false`, `no`), e.g. behind a proxy that mangles event streams.
pub const LIVE_TAIL_VARIABLE: &str = "LAMBDACTL_LIVE_TAIL";

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
    /// A change in how the tail runs, worth a line: live tail refused or ended, reconnected,
    /// output sampled.
    Note(String),
}

/// Whether the value of [`LIVE_TAIL_VARIABLE`] lets the follower use live tail.
pub fn live_tail_wanted(value: Option<&str>) -> bool {
    value.is_none_or(|value| {
        !["off", "0", "false", "no"]
            .iter()
            .any(|off| value.trim().eq_ignore_ascii_case(off))
    })
}

/// When the follower opens its next live-tail session.
#[derive(Debug, Clone)]
pub struct LivePlan {
    /// `None` when live tail is switched off.
    next_try: Option<Instant>,
    /// The wait before the next reconnection if the current session ends soon.
    reconnect_delay: std::time::Duration,
}

impl LivePlan {
    pub fn new(enabled: bool, now: Instant) -> Self {
        Self {
            next_try: enabled.then_some(now),
            reconnect_delay: RECONNECT_MIN,
        }
    }

    /// Whether to open a session now. Never while polls fail: a session must start with a
    /// backfill poll, or the events between the last poll and the session would be missing
    /// (or shown out of order later), so it waits until polling works again.
    pub fn is_due(&self, now: Instant, polls_failing: bool) -> bool {
        !polls_failing && self.next_try.is_some_and(|at| now >= at)
    }

    /// The endpoint refused live tail: poll, and ask again after [`LIVE_TAIL_RETRY`].
    pub fn refused(&mut self, now: Instant) {
        self.next_try = Some(now + LIVE_TAIL_RETRY);
    }

    /// A session ended after `lasted` (zero when it never started): the wait before the next,
    /// which doubles while sessions stay short and starts over after one that lasted.
    pub fn ended(&mut self, now: Instant, lasted: std::time::Duration) -> std::time::Duration {
        let delay = if lasted >= STABLE_SESSION {
            RECONNECT_MIN
        } else {
            self.reconnect_delay
        };
        self.reconnect_delay = (delay * 2).min(RECONNECT_MAX);
        if self.next_try.is_some() {
            self.next_try = Some(now + delay);
        }
        delay
    }
}

/// Why a live-tail session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The service closed the stream without an error.
    Closed,
    /// The stream carried an error, e.g. `SessionTimeoutException` after three hours, or the
    /// connection failed.
    Failed(String),
    /// No update came for [`SESSION_SILENCE`].
    Silent,
    /// The service sampled a burst down: polling shows every event of it.
    Sampled,
    /// The session could not be opened: the request did not get through.
    Unreachable(String),
}

impl SessionEnd {
    /// The note that says so, with when the follower reconnects.
    pub fn note(&self, reconnect_in: std::time::Duration) -> String {
        let seconds = reconnect_in.as_secs();
        match self {
            Self::Sampled => format!(
                "live tail sampled the output (over 500 events a second); polling to show \
                 every event, reconnecting in {seconds} s"
            ),
            Self::Unreachable(reason) => format!(
                "live tail could not connect ({reason}); polling, reconnecting in {seconds} s"
            ),
            Self::Closed | Self::Failed(_) | Self::Silent => {
                let reason = match self {
                    Self::Failed(reason) => reason.clone(),
                    Self::Silent => format!("no update for {} s", SESSION_SILENCE.as_secs()),
                    _ => "the stream closed".to_owned(),
                };
                format!("live tail ended ({reason}); polling, reconnecting in {seconds} s")
            }
        }
    }
}

/// What one message of a session (`None` when none came in time) means: events to show, or
/// the end of the session. A sampled update ends it, and its events are left to the poll that
/// follows, which fetches the whole burst in order.
pub fn session_step(
    received: Option<Result<Option<LiveTailMessage>, AwsError>>,
) -> ControlFlow<SessionEnd, Vec<LogEvent>> {
    match received {
        None => ControlFlow::Break(SessionEnd::Silent),
        Some(Ok(None)) => ControlFlow::Break(SessionEnd::Closed),
        Some(Err(error)) => {
            ControlFlow::Break(SessionEnd::Failed(error.code.unwrap_or(error.message)))
        }
        Some(Ok(Some(LiveTailMessage::Started))) => ControlFlow::Continue(Vec::new()),
        Some(Ok(Some(LiveTailMessage::Update { sampled: true, .. }))) => {
            ControlFlow::Break(SessionEnd::Sampled)
        }
        Some(Ok(Some(LiveTailMessage::Update { events, .. }))) => ControlFlow::Continue(events),
    }
}

/// The note for an endpoint that answered `StartLiveTail` (or the ARN look-up) with an error.
pub fn refused_note(error: &AwsError) -> String {
    let minutes = LIVE_TAIL_RETRY.as_secs() / 60;
    match &error.code {
        Some(code) => {
            format!("live tail refused ({code}); polling, trying it again in {minutes} min")
        }
        None => format!(
            "live tail unavailable ({}); polling, trying it again in {minutes} min",
            error.message
        ),
    }
}

/// The note for a new session after an earlier one ended: how many events polling brought in
/// between, the new session's own backfill included.
pub fn reconnected_note(backfilled: usize) -> String {
    format!("reconnected, {backfilled} backfilled")
}

/// Follows the log group, reporting each change through `emit`, until `emit` says to stop or
/// the caller drops the future. Failures slow the polling with jittered exponential backoff
/// and never end it. A live-tail session belongs to the future: dropping the future (Ctrl-C in
/// the CLI, an aborted task in the console) drops the session and closes its connection.
pub async fn follow(
    clients: &AwsClients,
    log_group: &str,
    filter_pattern: Option<String>,
    since: DateTime<Utc>,
    emit: impl FnMut(TailUpdate) -> ControlFlow<()>,
) {
    let live = live_tail_wanted(std::env::var(LIVE_TAIL_VARIABLE).ok().as_deref());
    let identity = if live {
        Identity::Content
    } else {
        Identity::EventId
    };
    let mut follower = Follower {
        clients,
        log_group,
        filter_pattern,
        cursor: TailCursor::with_identity(since, DEFAULT_OVERLAP, identity),
        plan: LivePlan::new(live, Instant::now()),
        delays: poll_backoff(),
        failing: false,
        polls: 0,
        gap: None,
        emit,
    };
    follower.run().await;
}

/// The waits between failed polls.
fn poll_backoff() -> backon::ExponentialBackoff {
    use backon::BackoffBuilder;

    backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_secs(1))
        // backon adds up to the same again as jitter, so waits stay under 30 s.
        .with_max_delay(std::time::Duration::from_secs(15))
        .with_jitter()
        .without_max_times()
        .build()
}

/// The follower's state between steps. Each step is a poll or a whole live-tail session and
/// says how long to pause before the next, or to stop.
struct Follower<'a, F> {
    clients: &'a AwsClients,
    log_group: &'a str,
    filter_pattern: Option<String>,
    cursor: TailCursor,
    plan: LivePlan,
    delays: backon::ExponentialBackoff,
    /// Whether the last poll failed.
    failing: bool,
    /// How many polls have been made, for the sweeps' turn.
    polls: u32,
    /// Since a session ended: how many events polling has brought in.
    gap: Option<usize>,
    emit: F,
}

impl<F: FnMut(TailUpdate) -> ControlFlow<()>> Follower<'_, F> {
    async fn run(&mut self) {
        loop {
            let step = if self.plan.is_due(Instant::now(), self.failing) {
                self.live().await
            } else {
                self.poll().await
            };
            match step {
                ControlFlow::Continue(pause) => tokio::time::sleep(pause).await,
                ControlFlow::Break(()) => return,
            }
        }
    }

    /// Polls once, from the start of the window for a sweep, else from the recent overlap; the
    /// new events, not yet shown.
    async fn fetch(&mut self, sweep: bool) -> Result<Vec<LogEvent>, AwsError> {
        let since = if sweep {
            self.cursor.window_start()
        } else {
            self.cursor.recent_start()
        };
        let query = crate::aws::EventQuery {
            since: Some(since),
            filter_pattern: self.filter_pattern.clone(),
            limit: None,
            polling: true,
        };
        let events = self.clients.filter_events(self.log_group, &query).await?;
        Ok(self.cursor.accept(events))
    }

    async fn poll(&mut self) -> ControlFlow<(), std::time::Duration> {
        let sweep = is_sweep(self.polls, self.failing);
        self.polls = self.polls.wrapping_add(1);
        match self.fetch(sweep).await {
            Ok(fresh) => {
                if let Some(gap) = &mut self.gap {
                    *gap += fresh.len();
                }
                // After a failure even an empty answer is news: the tail is live again.
                if !fresh.is_empty() || self.failing {
                    (self.emit)(TailUpdate::Events(fresh))?;
                }
                self.failing = false;
                self.delays = poll_backoff();
                ControlFlow::Continue(POLL_INTERVAL)
            }
            Err(error) => self.failed(&error),
        }
    }

    /// Says that a poll failed, and waits longer each time until one succeeds.
    fn failed(&mut self, error: &AwsError) -> ControlFlow<(), std::time::Duration> {
        let retry_in = self
            .delays
            .next()
            .unwrap_or(std::time::Duration::from_secs(30));
        self.failing = true;
        (self.emit)(TailUpdate::Waiting {
            throttled: error.is_throttling(),
            retry_in,
            reason: error.to_string(),
        })?;
        ControlFlow::Continue(retry_in)
    }

    /// Opens a session, polls once for what came before it, then shows its events until it
    /// ends. The poll that follows at once fills the gap the end left.
    async fn live(&mut self) -> ControlFlow<(), std::time::Duration> {
        let started = self
            .clients
            .start_live_tail(self.log_group, self.filter_pattern.as_deref())
            .await;
        let mut session = match started {
            Ok(session) => session,
            Err(unavailable) => return self.unavailable(unavailable),
        };
        let backfilled = match self.fetch(true).await {
            Ok(fresh) => fresh,
            Err(error) => {
                drop(session);
                self.plan.ended(Instant::now(), std::time::Duration::ZERO);
                return self.failed(&error);
            }
        };
        let note = match self.gap.take() {
            Some(gap) => reconnected_note(gap + backfilled.len()),
            None => "live tail connected".to_owned(),
        };
        if !backfilled.is_empty() {
            (self.emit)(TailUpdate::Events(backfilled))?;
        }
        (self.emit)(TailUpdate::Note(note))?;
        let opened = Instant::now();
        let end = self.show_session(&mut session).await?;
        drop(session);
        let reconnect_in = self.plan.ended(Instant::now(), opened.elapsed());
        self.gap = Some(0);
        (self.emit)(TailUpdate::Note(end.note(reconnect_in)))?;
        ControlFlow::Continue(std::time::Duration::ZERO)
    }

    /// Shows a session's events until it ends; `Break` when `emit` says to stop.
    async fn show_session(&mut self, session: &mut LiveTailSession) -> ControlFlow<(), SessionEnd> {
        loop {
            let received = tokio::time::timeout(SESSION_SILENCE, session.next()).await;
            match session_step(received.ok()) {
                ControlFlow::Continue(events) => {
                    let fresh = self.cursor.accept(events);
                    if !fresh.is_empty() {
                        (self.emit)(TailUpdate::Events(fresh))?;
                    }
                }
                ControlFlow::Break(end) => return ControlFlow::Continue(end),
            }
        }
    }

    /// No session: a refusal means polling for [`LIVE_TAIL_RETRY`]; a request that did not get
    /// through is retried like a session that ended at once.
    fn unavailable(
        &mut self,
        unavailable: LiveTailUnavailable,
    ) -> ControlFlow<(), std::time::Duration> {
        let now = Instant::now();
        let note = if unavailable.answered {
            self.plan.refused(now);
            refused_note(&unavailable.error)
        } else {
            let reconnect_in = self.plan.ended(now, std::time::Duration::ZERO);
            SessionEnd::Unreachable(unavailable.error.message).note(reconnect_in)
        };
        (self.emit)(TailUpdate::Note(note))?;
        ControlFlow::Continue(std::time::Duration::ZERO)
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
            cursor.window_start(),
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
        assert_eq!(cursor.window_start(), since() + Duration::seconds(30));
        let late = cursor.accept(vec![event(2, 45_000), event(1, 60_000)]);
        assert_eq!(late, vec![event(2, 45_000)]);
    }

    #[test]
    fn ordinary_polls_reach_back_the_recent_overlap_and_sweeps_the_whole_window() {
        let mut cursor = TailCursor::new(since(), Duration::seconds(60));
        assert_eq!(cursor.recent_start(), since(), "nothing seen: from since");
        cursor.accept(vec![event(1, 100_000)]);
        assert_eq!(cursor.recent_start(), since() + Duration::seconds(90));
        assert_eq!(cursor.window_start(), since() + Duration::seconds(40));
        // A sweep finds an event later than the recent overlap, and shows it once.
        let late = cursor.accept(vec![event(2, 50_000), event(1, 100_000)]);
        assert_eq!(late, vec![event(2, 50_000)]);
        let mut narrow = TailCursor::new(since(), Duration::seconds(5));
        narrow.accept(vec![event(1, 100_000)]);
        assert_eq!(
            narrow.recent_start(),
            narrow.window_start(),
            "never further back than the window"
        );
    }

    #[test]
    fn the_first_poll_every_tenth_and_the_first_after_a_failure_are_sweeps() {
        let sweeps: Vec<u32> = (0..25).filter(|&poll| is_sweep(poll, false)).collect();
        assert_eq!(sweeps, [0, 10, 20]);
        assert!(is_sweep(7, true));
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

    #[test]
    fn search_looks_through_the_text_as_shown() {
        let mut live = LiveTail::new(10);
        let messages = [
            "failed\r\u{1b}[Kretried",
            "status \u{1b}[31mFAIL\u{1b}[0med",
            "all fine",
            "FAILED again",
        ];
        live.buffer
            .extend(messages.iter().enumerate().map(|(n, message)| LogEvent {
                message: (*message).into(),
                ..event(u32::try_from(n).unwrap(), i64::try_from(n).unwrap())
            }));
        live.search = Some("Failed".into());
        // The first line's match was erased; the second's is split by a colour code.
        assert_eq!(live.find(0, true), Some(1));
        assert_eq!(live.find(1, true), Some(3));
        assert_eq!(live.find(3, true), Some(1), "wraps around");
        assert_eq!(live.find(1, false), Some(3), "backwards, wrapping");
    }

    #[test]
    fn the_cursor_remembers_only_the_overlap_window_however_long_the_stream() {
        let mut cursor =
            TailCursor::with_identity(since(), Duration::seconds(10), Identity::Content);
        // Ten events a second for ten minutes, each with a long message.
        for second in 0..600 {
            let batch = (0..10)
                .map(|tenth| {
                    let millis = second * 1_000 + tenth * 100;
                    LogEvent {
                        message: format!("{millis} {}", "x".repeat(1_000)),
                        ..event(0, millis)
                    }
                })
                .collect();
            assert_eq!(cursor.accept(batch).len(), 10);
            assert!(
                cursor.remembered() <= 101,
                "after {second} s: {}",
                cursor.remembered()
            );
        }
    }

    /// The same event as live tail delivers it: no event id.
    fn live(event: &LogEvent) -> LogEvent {
        LogEvent {
            event_id: None,
            ..event.clone()
        }
    }

    fn messages(events: &[LogEvent]) -> Vec<&str> {
        events.iter().map(|event| event.message.as_str()).collect()
    }

    #[test]
    fn a_session_and_an_overlapping_backfill_show_each_event_once() {
        let mut cursor =
            TailCursor::with_identity(since(), Duration::seconds(60), Identity::Content);
        // A session shows events 1 to 3, then ends; the backfill poll (with event ids) fetches
        // 1 to 5 from the overlap before the newest.
        let session = cursor.accept(
            [1, 2, 3]
                .map(|id| live(&event(id, i64::from(id) * 100)))
                .to_vec(),
        );
        assert_eq!(messages(&session), ["event 1", "event 2", "event 3"]);
        let backfill = cursor.accept((1..=5).map(|id| event(id, i64::from(id) * 100)).collect());
        assert_eq!(messages(&backfill), ["event 4", "event 5"]);
        // The next session repeats 5 (as the sandbox's snapshot does) and brings 6.
        let next = cursor.accept(
            [5, 6]
                .map(|id| live(&event(id, i64::from(id) * 100)))
                .to_vec(),
        );
        assert_eq!(messages(&next), ["event 6"]);
    }

    #[test]
    fn identical_lines_in_one_millisecond_collapse_by_content_but_not_by_id() {
        let twin = |id: u32| LogEvent {
            message: "same line".into(),
            ..event(id, 500)
        };
        let mut by_content =
            TailCursor::with_identity(since(), Duration::seconds(60), Identity::Content);
        assert_eq!(by_content.accept(vec![twin(1), twin(2)]).len(), 1);
        let mut by_id = TailCursor::new(since(), Duration::seconds(60));
        assert_eq!(by_id.accept(vec![twin(1), twin(2)]).len(), 2);
    }

    #[test]
    fn the_backfill_starts_the_overlap_before_the_newest_live_event() {
        let mut cursor =
            TailCursor::with_identity(since(), Duration::seconds(30), Identity::Content);
        cursor.accept(vec![live(&event(1, 20_000))]);
        assert_eq!(cursor.window_start(), since(), "never before since");
        cursor.accept(vec![live(&event(2, 90_000))]);
        assert_eq!(cursor.window_start(), since() + Duration::seconds(60));
    }

    #[test]
    fn events_older_than_the_window_are_not_shown_again_after_being_forgotten() {
        let mut cursor =
            TailCursor::with_identity(since(), Duration::seconds(10), Identity::Content);
        cursor.accept(vec![live(&event(1, 1_000))]);
        cursor.accept(vec![live(&event(2, 60_000))]);
        // The sandbox's next snapshot starts with the group's oldest events again.
        let replay = cursor.accept(vec![live(&event(1, 1_000)), live(&event(3, 61_000))]);
        assert_eq!(messages(&replay), ["event 3"]);
        let before_since = LogEvent {
            timestamp: since() - Duration::seconds(1),
            ..live(&event(9, 0))
        };
        let mut fresh =
            TailCursor::with_identity(since(), Duration::seconds(10), Identity::Content);
        assert!(
            fresh.accept(vec![before_since]).is_empty(),
            "nothing before since"
        );
    }

    fn aws_error(code: Option<&str>, message: &str) -> AwsError {
        AwsError {
            doing: "live tail of /aws/lambda/f".into(),
            code: code.map(str::to_owned),
            message: message.into(),
            request_id: None,
        }
    }

    #[test]
    fn a_refusal_falls_back_to_polling_and_live_tail_is_tried_again_later() {
        let now = Instant::now();
        let mut plan = LivePlan::new(true, now);
        assert!(plan.is_due(now, false), "live tail is tried first");
        plan.refused(now);
        assert!(!plan.is_due(now + std::time::Duration::from_mins(1), false));
        assert!(plan.is_due(now + LIVE_TAIL_RETRY, false));
        let note = refused_note(&aws_error(
            Some("LimitExceededException"),
            "too many sessions",
        ));
        assert_eq!(
            note,
            "live tail refused (LimitExceededException); polling, trying it again in 5 min"
        );
        let note = refused_note(&aws_error(None, "HTTP 500 without an error code"));
        assert!(
            note.starts_with("live tail unavailable (HTTP 500"),
            "{note}"
        );
    }

    #[test]
    fn live_tail_waits_for_polling_to_work_before_it_reconnects() {
        let now = Instant::now();
        let plan = LivePlan::new(true, now);
        assert!(
            !plan.is_due(now, true),
            "a session needs a backfill poll that works"
        );
        let off = LivePlan::new(false, now);
        assert!(!off.is_due(now + LIVE_TAIL_RETRY * 10, false));
    }

    #[test]
    fn reconnections_back_off_while_sessions_stay_short_and_start_over_after_a_long_one() {
        let now = Instant::now();
        let mut plan = LivePlan::new(true, now);
        let short = std::time::Duration::from_millis(50);
        let delays: Vec<u64> = (0..8).map(|_| plan.ended(now, short).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert!(!plan.is_due(now + std::time::Duration::from_secs(59), false));
        assert!(plan.is_due(now + RECONNECT_MAX, false));
        // The three-hour timeout: reconnect soon.
        assert_eq!(
            plan.ended(now, std::time::Duration::from_hours(3)),
            RECONNECT_MIN
        );
        assert_eq!(plan.ended(now, short), RECONNECT_MIN * 2);
    }

    #[test]
    fn a_session_ends_when_it_closes_fails_goes_quiet_or_is_sampled() {
        let update = |sampled| {
            Some(Ok(Some(LiveTailMessage::Update {
                events: vec![live(&event(1, 1))],
                sampled,
            })))
        };
        assert_eq!(
            session_step(update(false)),
            ControlFlow::Continue(vec![live(&event(1, 1))])
        );
        assert_eq!(
            session_step(update(true)),
            ControlFlow::Break(SessionEnd::Sampled)
        );
        assert_eq!(
            session_step(Some(Ok(Some(LiveTailMessage::Started)))),
            ControlFlow::Continue(vec![])
        );
        assert_eq!(
            session_step(Some(Ok(None))),
            ControlFlow::Break(SessionEnd::Closed)
        );
        assert_eq!(session_step(None), ControlFlow::Break(SessionEnd::Silent));
        let timeout = aws_error(Some("SessionTimeoutException"), "three hours");
        assert_eq!(
            session_step(Some(Err(timeout))),
            ControlFlow::Break(SessionEnd::Failed("SessionTimeoutException".into()))
        );
    }

    #[test]
    fn the_notes_say_what_happened_and_what_comes_next() {
        let in_four = std::time::Duration::from_secs(4);
        assert_eq!(
            SessionEnd::Sampled.note(in_four),
            "live tail sampled the output (over 500 events a second); polling to show every \
             event, reconnecting in 4 s"
        );
        assert_eq!(
            SessionEnd::Failed("SessionTimeoutException".into()).note(in_four),
            "live tail ended (SessionTimeoutException); polling, reconnecting in 4 s"
        );
        assert_eq!(
            SessionEnd::Closed.note(in_four),
            "live tail ended (the stream closed); polling, reconnecting in 4 s"
        );
        assert_eq!(
            SessionEnd::Silent.note(in_four),
            "live tail ended (no update for 20 s); polling, reconnecting in 4 s"
        );
        assert_eq!(reconnected_note(3), "reconnected, 3 backfilled");
    }

    #[test]
    fn the_variable_switches_live_tail_off() {
        assert!(live_tail_wanted(None));
        assert!(live_tail_wanted(Some("on")));
        for off in ["off", "OFF", "0", "false", "no", " off "] {
            assert!(!live_tail_wanted(Some(off)), "{off}");
        }
    }

    #[test]
    fn the_title_shows_a_failure_then_the_latest_note_again() {
        let mut tail = LiveTail::new(10);
        tail.show_note("reconnected, 2 backfilled".into());
        assert_eq!(tail.waiting.as_deref(), Some("reconnected, 2 backfilled"));
        tail.waiting = Some("throttled, retrying in 1.0 s".into());
        tail.live_again();
        assert_eq!(tail.waiting.as_deref(), Some("reconnected, 2 backfilled"));
        let mut quiet = LiveTail::new(10);
        quiet.live_again();
        assert_eq!(quiet.waiting, None);
    }
}
