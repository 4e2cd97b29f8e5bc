//! The console's state and the one way it changes: an [`Action`] goes through
//! [`App::update`], which may ask for background work as [`Command`]s. Nothing here draws or
//! waits on I/O, so every state change can be tested without a terminal or a network.

pub mod deploy;
pub mod history;
pub mod invoke;
pub mod payloads;
pub mod preview;
pub mod tail;
pub mod tasks;

use serde::Deserialize;

use crate::aws::AwsError;
use crate::config::{Settings, Targets};
use crate::model::{
    Digest, FunctionInfo, ImageInfo, LogEvent, LogStreamInfo, ObjectHead, ObjectInfo,
};
use crate::pipeline::run::{DeployRequest, Source};

/// The windows the live tail can start from, in minutes; the first is the default.
pub const TAIL_WINDOWS: [i64; 4] = [15, 60, 360, 1440];

/// How many columns the live view scrolls sideways per key.
pub const SCROLL_STEP: usize = 20;

/// How many rows PageUp and PageDown move.
pub const PAGE: usize = 10;
/// How many streams and events the Logs pane loads.
pub const STREAM_LIMIT: i32 = 50;
pub const EVENT_LIMIT: i32 = 500;

/// The history read from the state folder, with what this console sent that the file does not
/// hold yet (its write may still be on the way) kept in front, bounded as the file is.
fn merge_history(in_memory: &[String], from_file: Vec<String>) -> Vec<String> {
    let mut merged: Vec<String> = in_memory
        .iter()
        .take_while(|payload| !from_file.contains(payload))
        .cloned()
        .collect();
    // None of those is in the file: the file's entries follow as they are.
    merged.extend(from_file);
    merged.truncate(history::KEPT);
    merged
}

/// Every change to the console's state. Key bindings name the variants without data; background
/// tasks report back with the others.
#[allow(
    clippy::large_enum_variant,
    reason = "a few actions a second pass through the channel; boxing would buy nothing"
)]
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum Action {
    Quit,
    Refresh,
    ToggleHelp,
    FocusNext,
    FocusPrevious,
    FocusImages,
    FocusObjects,
    FocusLogs,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Go into the selected item: in the Logs pane, from the streams to their events; in the
    /// Objects pane, a preview of the object; in the Images pane, a rollback to the image.
    Enter,
    /// Come back out: close the help or a dialog, cancel a running deploy, close a finished
    /// one, or return from events to streams.
    Back,
    /// Build and deploy from source; the update waits for a confirmation.
    Deploy,
    /// Open the invoke view, with its payload editor.
    OpenInvoke,
    /// Logs: switch the events side between the live tail and the selected stream.
    ToggleLive,
    /// Logs: keep to the newest event, or hold the view still.
    ToggleFollow,
    /// Logs: search the live tail's messages (typed in a prompt).
    Search,
    /// Logs: the previous search match (the next one is `Decline`'s key when no dialog is open).
    PreviousMatch,
    /// Logs: a CloudWatch filter pattern for the live tail (typed in a prompt).
    FilterPattern,
    /// Logs: wrap long messages, or cut them.
    ToggleWrap,
    /// Logs: how far back the live tail starts (15 minutes, 1 hour, 6 hours, a day).
    CycleTimeRange,
    ScrollLeft,
    ScrollRight,
    /// Invoke: show the last invoke's request id in the live tail.
    JumpToRequest,
    /// Invoke: put the next saved payload in the editor.
    NextSavedPayload,
    /// Invoke: put the next payload sent before (newest first) in the editor.
    EarlierPayload,
    /// Invoke: the editor's text changed. It does nothing but clear the status line, whose
    /// word on a loaded payload no longer holds.
    #[serde(skip)]
    PayloadEdited,
    /// What was typed in the open prompt.
    #[serde(skip)]
    SubmitPrompt(String),
    /// Answer yes in a dialog.
    Confirm,
    /// Answer no in a dialog.
    Decline,
    /// Advances the loading spinners.
    #[serde(skip)]
    Tick,
    #[serde(skip)]
    FunctionLoaded(Result<FunctionInfo, AwsError>),
    #[serde(skip)]
    ImagesLoaded(Result<Vec<ImageInfo>, AwsError>),
    #[serde(skip)]
    RecordedLoaded(Result<Option<Digest>, AwsError>),
    #[serde(skip)]
    ObjectsLoaded(Result<Vec<ObjectInfo>, AwsError>),
    #[serde(skip)]
    StreamsLoaded(Result<Vec<LogStreamInfo>, AwsError>),
    /// The start of the object a preview asked for.
    #[serde(skip)]
    ObjectLoaded {
        key: String,
        result: Result<ObjectHead, AwsError>,
    },
    /// Send the editor's payload; the console's editor produces it.
    #[serde(skip)]
    SendInvoke {
        payload: String,
        asynchronous: bool,
    },
    #[serde(skip)]
    TailEvents(Vec<LogEvent>),
    /// The follower's note: live tail refused or ended, reconnected, output sampled.
    #[serde(skip)]
    TailNote(String),
    #[serde(skip)]
    TailWaiting {
        throttled: bool,
        retry_in_ms: u128,
        reason: String,
    },
    #[serde(skip)]
    HistoryLoaded(Vec<String>),
    #[serde(skip)]
    SavedPayloadsLoaded(Vec<payloads::SavedPayload>),
    #[serde(skip)]
    InvokeWaking(String),
    #[serde(skip)]
    InvokeFinished(Result<invoke::InvokeReport, String>),
    #[serde(skip)]
    DeployProgress(crate::pipeline::run::Event),
    #[serde(skip)]
    DeployFinished(crate::pipeline::run::DeployReport),
    #[serde(skip)]
    EventsLoaded {
        stream: String,
        result: Result<Vec<LogEvent>, AwsError>,
    },
}

/// Background work the reducer asks for. Running a command again for the same data replaces
/// the one in flight.
#[allow(
    clippy::large_enum_variant,
    reason = "commands are few and short-lived; a deploy request is the one large one"
)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    LoadFunction {
        name: String,
    },
    LoadImages {
        repository: String,
    },
    LoadRecorded {
        bucket: String,
    },
    LoadObjects {
        bucket: String,
    },
    /// Reads the start of one object, for its preview.
    LoadObject {
        bucket: String,
        key: String,
    },
    LoadStreams {
        log_group: String,
    },
    LoadEvents {
        log_group: String,
        stream: String,
    },
    /// Runs the pipeline; with `approval`, the update waits for [`Command::AnswerApproval`].
    StartDeploy {
        request: crate::pipeline::run::DeployRequest,
        approval: bool,
    },
    AnswerApproval(bool),
    CancelDeploy,
    Invoke {
        function: String,
        payload: Vec<u8>,
        asynchronous: bool,
    },
    /// Reads the payloads sent to the function before.
    LoadHistory {
        function: String,
    },
    /// Reads the saved payloads of the folder, and the built-in examples.
    LoadSavedPayloads {
        folder: std::path::PathBuf,
    },
    /// Puts a sent payload first in the function's history.
    RememberPayload {
        function: String,
        payload: String,
    },
    /// Follows the log group from `since_minutes` back, with a filter pattern or none.
    StartTail {
        log_group: String,
        filter: Option<String>,
        since_minutes: i64,
    },
}

/// The panes that take focus, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaneId {
    Images,
    Objects,
    Logs,
}

impl PaneId {
    pub const ALL: [Self; 3] = [Self::Images, Self::Objects, Self::Logs];

    fn step(self, forward: bool) -> Self {
        let at = Self::ALL.iter().position(|pane| *pane == self).unwrap_or(0);
        let len = Self::ALL.len();
        Self::ALL[if forward {
            (at + 1) % len
        } else {
            (at + len - 1) % len
        }]
    }
}

/// Data that arrives from a background load: the last good value stays visible while a
/// refresh runs, and an error is kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loadable<T> {
    pub data: Option<T>,
    pub loading: bool,
    pub error: Option<AwsError>,
}

impl<T> Default for Loadable<T> {
    fn default() -> Self {
        Self {
            data: None,
            loading: false,
            error: None,
        }
    }
}

impl<T> Loadable<T> {
    fn start(&mut self) {
        self.loading = true;
    }

    fn finish(&mut self, result: Result<T, AwsError>) {
        self.loading = false;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// Records that the load cannot run, with the reason shown where the data would be.
    fn unavailable(&mut self, doing: &str, reason: &str) {
        self.loading = false;
        self.data = None;
        self.error = Some(AwsError {
            doing: doing.to_owned(),
            code: None,
            message: reason.to_owned(),
            request_id: None,
        });
    }
}

/// A selected row in a list that may be empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
}

impl Cursor {
    fn apply(&mut self, action: &Action, len: usize) {
        let last = len.saturating_sub(1);
        self.selected = match action {
            Action::Up => self.selected.saturating_sub(1),
            Action::Down => self.selected + 1,
            Action::PageUp => self.selected.saturating_sub(PAGE),
            Action::PageDown => self.selected + PAGE,
            Action::Top => 0,
            Action::Bottom => last,
            _ => self.selected,
        }
        .min(last);
    }
}

/// What an open prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Search,
    Filter,
}

/// What the events side of the Logs pane shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogsView {
    /// Every stream's events as they arrive.
    #[default]
    Live,
    /// The recent events of the stream selected on the left.
    Stream,
}

/// Which list of the Logs pane the cursor keys move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogsFocus {
    #[default]
    Streams,
    Events,
}

/// The whole state of the console.
#[derive(Debug, Clone)]
pub struct App {
    pub settings: Settings,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub function: Loadable<FunctionInfo>,
    pub targets: Option<Targets>,
    pub images: Loadable<Vec<ImageInfo>>,
    pub recorded: Loadable<Option<Digest>>,
    pub objects: Loadable<Vec<ObjectInfo>>,
    pub streams: Loadable<Vec<LogStreamInfo>>,
    pub events: Loadable<Vec<LogEvent>>,
    /// The stream whose events are shown or being loaded.
    pub events_stream: Option<String>,
    pub focus: PaneId,
    pub logs_focus: LogsFocus,
    pub images_cursor: Cursor,
    pub objects_cursor: Cursor,
    pub streams_cursor: Cursor,
    pub events_cursor: Cursor,
    pub show_help: bool,
    pub dialog: Option<deploy::Dialog>,
    pub deploy: Option<deploy::DeployView>,
    pub invoke: Option<invoke::InvokeView>,
    /// The invoke view as it was when closed: its last answer, its payloads and an answer that
    /// arrives meanwhile are there again when it opens.
    pub closed_invoke: Option<invoke::InvokeView>,
    /// The open preview of an object, shown where the logs are.
    pub preview: Option<preview::ObjectPreview>,
    pub live: tail::LiveTail,
    pub logs_view: LogsView,
    pub live_cursor: Cursor,
    /// How far back the live tail starts, in minutes.
    pub tail_minutes: i64,
    pub prompt: Option<Prompt>,
    /// A one-line message for the status line, such as why a key did nothing.
    pub notice: Option<String>,
    pub spinner_frame: usize,
    /// Set by a first quit while a deploy runs.
    pub quit_asked: bool,
    pub should_quit: bool,
}

impl App {
    pub fn new(settings: Settings, region: Option<String>, endpoint_url: Option<String>) -> Self {
        let tail_lines = settings.tail_lines.unwrap_or(tail::DEFAULT_BUFFER_LINES);
        Self {
            settings,
            region,
            endpoint_url,
            function: Loadable::default(),
            targets: None,
            images: Loadable::default(),
            recorded: Loadable::default(),
            objects: Loadable::default(),
            streams: Loadable::default(),
            events: Loadable::default(),
            events_stream: None,
            focus: PaneId::Images,
            logs_focus: LogsFocus::default(),
            images_cursor: Cursor::default(),
            objects_cursor: Cursor::default(),
            streams_cursor: Cursor::default(),
            events_cursor: Cursor::default(),
            show_help: false,
            dialog: None,
            deploy: None,
            invoke: None,
            closed_invoke: None,
            preview: None,
            live: tail::LiveTail::new(tail_lines),
            logs_view: LogsView::default(),
            live_cursor: Cursor::default(),
            tail_minutes: TAIL_WINDOWS[0],
            prompt: None,
            notice: None,
            spinner_frame: 0,
            quit_asked: false,
            should_quit: false,
        }
    }

    /// The first loads, run when the console opens.
    pub fn start(&mut self) -> Vec<Command> {
        self.function.start();
        vec![Command::LoadFunction {
            name: self.settings.function.clone(),
        }]
    }

    /// Whether any background load is running, so the spinner needs ticks.
    pub fn is_loading(&self) -> bool {
        self.function.loading
            || self.images.loading
            || self.recorded.loading
            || self.objects.loading
            || self.streams.loading
            || self.events.loading
            || self
                .deploy
                .as_ref()
                .is_some_and(deploy::DeployView::is_running)
            || self
                .invoke
                .iter()
                .chain(&self.closed_invoke)
                .any(|view| view.sending)
            || self.preview.as_ref().is_some_and(|view| view.loading)
    }

    /// The preview, when it is what the lower half shows: a deploy or the invoke view covers it.
    pub fn shown_preview(&self) -> Option<&preview::ObjectPreview> {
        self.preview
            .as_ref()
            .filter(|_| self.deploy.is_none() && self.invoke.is_none())
    }

    /// The digest the function runs, once it is known.
    pub fn deployed_digest(&self) -> Option<Digest> {
        self.function
            .data
            .as_ref()
            .and_then(FunctionInfo::deployed_digest)
    }

    /// The digest recorded in the bucket, once it is known.
    pub fn recorded_digest(&self) -> Option<&Digest> {
        self.recorded.data.as_ref().and_then(Option::as_ref)
    }

    /// The reducer: applies one action and returns the background work it calls for.
    pub fn update(&mut self, action: Action) -> Vec<Command> {
        if !matches!(action, Action::Tick) {
            self.notice = None;
            self.quit_asked &= matches!(action, Action::Quit);
        }
        if self.preview_takes(&action) {
            return Vec::new();
        }
        match action {
            Action::Quit => self.quit(),
            Action::CycleTimeRange => return self.cycle_time_range(),
            Action::ToggleHelp => self.show_help = !self.show_help,
            Action::Back if self.show_help => self.show_help = false,
            Action::Back if self.prompt.is_some() => self.prompt = None,
            Action::ObjectLoaded { key, result } => self.object_loaded(&key, result),
            Action::SubmitPrompt(text) => return self.submit_prompt(&text),
            Action::Decline if self.nothing_to_decline() => self.jump_to_match(true),
            Action::PreviousMatch => self.jump_to_match(false),
            Action::JumpToRequest => self.jump_to_request(),
            Action::Back | Action::Decline | Action::Confirm | Action::Deploy => {
                return self.deploy_action(&action);
            }
            Action::OpenInvoke
            | Action::SendInvoke { .. }
            | Action::InvokeWaking(_)
            | Action::HistoryLoaded(_)
            | Action::SavedPayloadsLoaded(_)
            | Action::InvokeFinished(_) => return self.invoke_action(action),
            Action::NextSavedPayload | Action::EarlierPayload => self.load_payload(&action),
            Action::ToggleLive
            | Action::ToggleFollow
            | Action::ToggleWrap
            | Action::ScrollLeft
            | Action::ScrollRight
            | Action::TailEvents(_)
            | Action::Search
            | Action::FilterPattern
            | Action::TailWaiting { .. }
            | Action::TailNote(_) => self.live_action(action),
            Action::Enter if self.focus == PaneId::Logs => self.logs_focus = LogsFocus::Events,
            Action::Enter if self.focus == PaneId::Images => self.ask_rollback(),
            Action::Enter => return self.open_preview(),
            Action::DeployProgress(event) => {
                if let Some(view) = &mut self.deploy {
                    view.apply(event, std::time::Instant::now());
                }
            }
            Action::DeployFinished(report) => {
                if let Some(view) = &mut self.deploy {
                    view.finish(report);
                }
                // Even a declined or failed deploy may have pushed an image worth listing.
                return self.refresh();
            }
            Action::FocusNext => self.focus = self.focus.step(true),
            Action::FocusPrevious => self.focus = self.focus.step(false),
            Action::FocusImages => self.focus = PaneId::Images,
            Action::FocusObjects => self.focus = PaneId::Objects,
            Action::FocusLogs => self.focus = PaneId::Logs,
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => return self.move_cursor(&action),
            Action::Tick => self.spinner_frame = self.spinner_frame.wrapping_add(1),
            Action::PayloadEdited => {}
            Action::Refresh => return self.refresh(),
            Action::FunctionLoaded(result) => return self.function_loaded(result),
            Action::ImagesLoaded(result) => {
                self.images.finish(result.map(|mut images| {
                    crate::model::sort_images_newest_first(&mut images);
                    images
                }));
            }
            Action::RecordedLoaded(result) => self.recorded.finish(result),
            Action::ObjectsLoaded(result) => {
                self.objects.finish(result.map(|mut objects| {
                    crate::model::sort_objects_newest_first(&mut objects);
                    objects
                }));
            }
            Action::StreamsLoaded(result) => {
                self.streams.finish(result.map(|mut streams| {
                    crate::model::sort_streams_newest_first(&mut streams);
                    streams
                }));
                return self.load_selected_stream();
            }
            Action::EventsLoaded { stream, result } => {
                // A late answer for a stream that is no longer selected is dropped.
                if self.events_stream.as_deref() == Some(stream.as_str()) {
                    self.events.finish(result);
                    let len = self.events.data.as_ref().map_or(0, Vec::len);
                    self.events_cursor.apply(&Action::Bottom, len);
                }
            }
        }
        Vec::new()
    }

    /// The invoke view's actions: open, send, and the answers that come back.
    fn invoke_action(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::OpenInvoke => {
                let view = self
                    .invoke
                    .take()
                    .or_else(|| self.closed_invoke.take())
                    .unwrap_or_default();
                // Both are read at every opening, so a file added meanwhile and a payload sent
                // from the shell are offered.
                let commands = vec![
                    Command::LoadSavedPayloads {
                        folder: self.settings.payloads.clone(),
                    },
                    Command::LoadHistory {
                        function: self.settings.function.clone(),
                    },
                ];
                self.invoke = Some(view);
                return commands;
            }
            Action::HistoryLoaded(history) => {
                if let Some(view) = self.invoke_state() {
                    view.history = merge_history(&view.history, history);
                }
            }
            Action::SavedPayloadsLoaded(saved) => {
                if let Some(view) = self.invoke_state() {
                    // Ctrl-P starts over on a list that changed, so no new file is skipped.
                    if view.saved != saved {
                        view.next_saved = 0;
                    }
                    view.saved = saved;
                }
            }
            Action::SendInvoke {
                payload,
                asynchronous,
            } => {
                return self.send_invoke(&payload, asynchronous);
            }
            Action::InvokeWaking(reason) => {
                if let Some(view) = self.invoke_state() {
                    view.waking = Some(reason);
                }
            }
            Action::InvokeFinished(result) => {
                if self.invoke.is_none() && self.closed_invoke.is_some() {
                    let verdict = match &result {
                        Ok(report) if report.failed() => "failed",
                        Ok(_) => "answered",
                        Err(_) => "was not sent",
                    };
                    self.notice = Some(format!("the invoke {verdict}: i shows it"));
                }
                if let Some(view) = self.invoke_state() {
                    view.sending = false;
                    view.waking = None;
                    view.took = view.started.map(|started| started.elapsed());
                    view.result = Some(result);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    /// The live tail's next time range, and a tail that starts there.
    fn cycle_time_range(&mut self) -> Vec<Command> {
        let at = TAIL_WINDOWS
            .iter()
            .position(|&m| m == self.tail_minutes)
            .unwrap_or(0);
        self.tail_minutes = TAIL_WINDOWS[(at + 1) % TAIL_WINDOWS.len()];
        self.restart_tail()
    }

    /// The tail for the current window and filter, once the log group is known.
    fn start_tail(&self) -> Vec<Command> {
        let Some(targets) = &self.targets else {
            return Vec::new();
        };
        vec![Command::StartTail {
            log_group: targets.log_group.clone(),
            filter: self.live.filter.clone(),
            since_minutes: self.tail_minutes,
        }]
    }

    /// A new window or pattern is a new tail: what the old one showed may not belong in it.
    fn restart_tail(&mut self) -> Vec<Command> {
        let lines = self
            .settings
            .tail_lines
            .unwrap_or(tail::DEFAULT_BUFFER_LINES);
        self.live.buffer = tail::TailBuffer::new(lines);
        self.live_cursor = Cursor::default();
        self.live.following = true;
        self.logs_view = LogsView::Live;
        self.start_tail()
    }

    /// Quits, unless a deploy runs and this is the first ask: quitting abandons the deploy
    /// (nothing is recorded), so it takes a second press.
    fn quit(&mut self) {
        let deploying = self
            .deploy
            .as_ref()
            .is_some_and(deploy::DeployView::is_running);
        if deploying && !self.quit_asked {
            self.quit_asked = true;
            let notice = "a deploy is running: Esc cancels it; press q again to quit anyway";
            self.notice = Some(notice.to_owned());
        } else {
            self.should_quit = true;
        }
    }

    /// The live tail's actions: new events, a failing poll, and the view's switches.
    fn live_action(&mut self, action: Action) {
        match action {
            Action::Search => self.prompt = Some(Prompt::Search),
            Action::FilterPattern => self.prompt = Some(Prompt::Filter),
            Action::ToggleLive => {
                self.logs_view = match self.logs_view {
                    LogsView::Live => LogsView::Stream,
                    LogsView::Stream => LogsView::Live,
                };
            }
            Action::ToggleWrap => self.live.wrap = !self.live.wrap,
            Action::ScrollLeft => self.live.scroll = self.live.scroll.saturating_sub(SCROLL_STEP),
            Action::ScrollRight => self.live.scroll += SCROLL_STEP,
            Action::ToggleFollow => {
                self.live.following = !self.live.following;
                if self.live.following {
                    self.live_cursor.apply(&Action::Bottom, self.live.len());
                }
            }
            Action::TailEvents(events) => {
                self.live.live_again();
                self.streams_seen(&events);
                self.live.buffer.extend(events);
                if self.live.following {
                    self.live_cursor.apply(&Action::Bottom, self.live.len());
                }
            }
            Action::TailWaiting {
                throttled,
                retry_in_ms,
                reason,
            } => {
                let what = if throttled { "throttled" } else { "failed" };
                #[allow(clippy::cast_precision_loss, reason = "seconds for a status line")]
                let seconds = retry_in_ms as f64 / 1000.0;
                self.live.waiting = Some(format!("{what}, retrying in {seconds:.1} s: {reason}"));
            }
            Action::TailNote(note) => self.live.show_note(note),
            _ => {}
        }
    }

    fn submit_prompt(&mut self, text: &str) -> Vec<Command> {
        let text = text.trim().to_owned();
        let value = (!text.is_empty()).then_some(text);
        match self.prompt.take() {
            Some(Prompt::Search) => {
                self.live.search = value;
                self.logs_view = LogsView::Live;
                // Following, the view is at the newest event: the newest match is the one
                // wanted. Held, the search goes on from where the view is.
                let (from, forward) = if self.live.following {
                    (self.live.len(), false)
                } else {
                    (self.live_cursor.selected, true)
                };
                self.jump_from(from, forward, false);
                Vec::new()
            }
            Some(Prompt::Filter) => {
                self.live.filter = value;
                self.restart_tail()
            }
            None => Vec::new(),
        }
    }

    /// Whether `n` has no dialog or approval to answer, and so means "next search match".
    fn nothing_to_decline(&self) -> bool {
        let awaiting = self
            .deploy
            .as_ref()
            .is_some_and(|view| view.awaiting.is_some());
        self.dialog.is_none() && !awaiting && self.live.search.is_some()
    }

    /// Moves the live view to the next (or previous) match, holding it there.
    fn jump_to_match(&mut self, forward: bool) {
        self.jump_from(self.live_cursor.selected, forward, true);
    }

    /// Moves the live view to the first match after `from` (before it, going back), and says
    /// where it landed; whether it wrapped around only when `say_wrapped`, as a new search's
    /// first jump starts from an end on purpose. Returns whether there was a match.
    fn jump_from(&mut self, from: usize, forward: bool, say_wrapped: bool) -> bool {
        let found = self.live.find(from, forward);
        match found {
            Some(index) => {
                self.live_cursor.selected = index;
                self.live.following = false;
                let wrapped = say_wrapped
                    && if forward {
                        index <= from
                    } else {
                        index >= from
                    };
                self.notice = Some(format!(
                    "match at event {} of {}{}",
                    index + 1,
                    self.live.len(),
                    if wrapped { ", wrapped around" } else { "" }
                ));
            }
            None if self.live.search.is_some() => {
                self.notice = Some("no event in the live tail matches the search".to_owned());
            }
            None => {}
        }
        found.is_some()
    }

    /// Searches the live tail for the last invoke's request id.
    fn jump_to_request(&mut self) {
        let request = self.invoke.as_ref().and_then(|view| match &view.result {
            Some(Ok(report)) => report.request_id.clone(),
            _ => None,
        });
        let Some(request) = request else {
            self.notice = Some("no invoke with a request id yet".to_owned());
            return;
        };
        self.closed_invoke = self.invoke.take();
        self.focus = PaneId::Logs;
        self.logs_focus = LogsFocus::Events;
        self.logs_view = LogsView::Live;
        self.live.search = Some(request.clone());
        // The request's first line (START) comes first: forward from the oldest event.
        let before_oldest = self.live.len().saturating_sub(1);
        if !self.jump_from(before_oldest, true, false) {
            self.notice = Some(format!(
                "no line of request {request} in the live tail yet: its lines can take a few \
                 seconds to arrive, and n looks again"
            ));
        }
    }

    /// The invoke view's state, open or closed.
    fn invoke_state(&mut self) -> Option<&mut invoke::InvokeView> {
        self.invoke.as_mut().or(self.closed_invoke.as_mut())
    }

    /// Ctrl-P and Ctrl-R in the editor: the next saved payload, or the next one sent before,
    /// goes into the editor, and the status line names it.
    fn load_payload(&mut self, action: &Action) {
        let Some(view) = &mut self.invoke else {
            return;
        };
        let (text, notice) = if *action == Action::NextSavedPayload {
            if view.saved.is_empty() {
                let folder = self.settings.payloads.display();
                self.notice = Some(format!("no saved payloads: put JSON files in {folder}/"));
                return;
            }
            let at = view.next_saved % view.saved.len();
            view.next_saved = at + 1;
            let saved = &view.saved[at];
            // Checked as the editor will hold it, so a position in the error is one there.
            let text = saved.text.trim_end_matches(['\n', '\r']).to_owned();
            let mut notice = format!(
                "saved payload {} ({} of {})",
                saved.name,
                at + 1,
                view.saved.len()
            );
            // Said now, not only when it is sent.
            if let Err(reason) = invoke::check_payload(&text) {
                notice = format!("{notice}; {reason}");
            }
            (text, notice)
        } else {
            if view.history.is_empty() {
                let function = &self.settings.function;
                self.notice = Some(format!("no payload sent to {function} before"));
                return;
            }
            let at = view.next_earlier % view.history.len();
            view.next_earlier = at + 1;
            let notice = format!(
                "payload sent before: {} of {}, newest first",
                at + 1,
                view.history.len()
            );
            (view.history[at].clone(), notice)
        };
        view.for_editor = Some(text);
        self.notice = Some(notice);
    }

    /// Checks the payload and, when it is JSON and no invoke is running, sends it.
    fn send_invoke(&mut self, payload: &str, asynchronous: bool) -> Vec<Command> {
        let view = self.invoke.get_or_insert_with(invoke::InvokeView::default);
        if view.sending {
            self.notice = Some("an invoke is running; its answer comes first".to_owned());
            return Vec::new();
        }
        match invoke::check_payload(payload) {
            // The last answer stays; the status line says why nothing was sent.
            Err(reason) => {
                self.notice = Some(format!("not sent: {reason}"));
                Vec::new()
            }
            Ok(bytes) => {
                // What is kept is what was sent: an empty editor sends `{}`.
                let payload = String::from_utf8_lossy(&bytes).into_owned();
                let mut history = std::mem::take(&mut view.history);
                history.retain(|known| *known != payload);
                history.insert(0, payload.clone());
                *view = invoke::InvokeView {
                    sending: true,
                    asynchronous,
                    started: Some(std::time::Instant::now()),
                    history,
                    saved: std::mem::take(&mut view.saved),
                    next_saved: view.next_saved,
                    ..invoke::InvokeView::default()
                };
                let function = self.settings.function.clone();
                vec![
                    Command::RememberPayload {
                        function: function.clone(),
                        payload,
                    },
                    Command::Invoke {
                        function,
                        payload: bytes,
                        asynchronous,
                    },
                ]
            }
        }
    }

    /// Dialogs first, then the deploy view, then the Logs pane: Back and the answers act on
    /// whatever is in front.
    fn deploy_action(&mut self, action: &Action) -> Vec<Command> {
        let running = self
            .deploy
            .as_ref()
            .is_some_and(deploy::DeployView::is_running);
        let awaiting = self
            .deploy
            .as_ref()
            .is_some_and(|view| view.awaiting.is_some());
        match action {
            Action::Confirm if self.dialog.is_some() => {
                let Some(deploy::Dialog::Rollback { to, .. }) = self.dialog.take() else {
                    return Vec::new();
                };
                self.start_deploy(
                    format!("rollback to {}", to.short()),
                    Source::Digest(to),
                    false,
                )
            }
            Action::Back | Action::Decline if self.dialog.is_some() => {
                self.dialog = None;
                Vec::new()
            }
            Action::Confirm | Action::Decline | Action::Back if awaiting => {
                if let Some(view) = &mut self.deploy {
                    view.awaiting = None;
                }
                vec![Command::AnswerApproval(*action == Action::Confirm)]
            }
            Action::Back if running => vec![Command::CancelDeploy],
            Action::Back if self.deploy.is_some() => {
                self.deploy = None;
                Vec::new()
            }
            Action::Back if self.invoke.is_some() => {
                self.closed_invoke = self.invoke.take();
                Vec::new()
            }
            Action::Back => {
                self.logs_focus = LogsFocus::Streams;
                Vec::new()
            }
            Action::Deploy if running => {
                self.notice = Some("a deploy is running; Esc cancels it".to_owned());
                Vec::new()
            }
            Action::Deploy => {
                let source = Source::Build {
                    context_dir: self.settings.context.clone(),
                    dockerfile: self.settings.dockerfile.clone(),
                    build_args: self.settings.build_args.clone(),
                };
                self.start_deploy("build and deploy".to_owned(), source, true)
            }
            _ => Vec::new(),
        }
    }

    fn start_deploy(&mut self, title: String, source: Source, approval: bool) -> Vec<Command> {
        self.deploy = Some(deploy::DeployView::new(title));
        let request = DeployRequest {
            settings: self.settings.clone(),
            source,
            platform: None,
            dry_run: false,
        };
        vec![Command::StartDeploy { request, approval }]
    }

    /// Gives the open preview the actions it takes (moving through it, Esc closing it): `true`
    /// when it took the action. Another pane's focus closes it, and the focus moves all the
    /// same; the help, a prompt or a dialog on top keeps their keys.
    fn preview_takes(&mut self, action: &Action) -> bool {
        if matches!(
            action,
            Action::FocusNext | Action::FocusPrevious | Action::FocusImages | Action::FocusLogs
        ) {
            self.preview = None;
            return false;
        }
        if self.show_help
            || self.prompt.is_some()
            || self.dialog.is_some()
            || self.shown_preview().is_none()
        {
            return false;
        }
        if *action == Action::Back {
            self.preview = None;
            return true;
        }
        self.preview.as_mut().is_some_and(|view| view.apply(action))
    }

    /// The start of an object arrived. A preview closed or moved on since it asked has no use
    /// for it.
    fn object_loaded(&mut self, key: &str, result: Result<ObjectHead, AwsError>) {
        if let Some(preview) = self.preview.as_mut().filter(|view| view.key == key) {
            preview.loaded(result);
        }
    }

    /// Opens a preview of the selected object and asks for its start.
    fn open_preview(&mut self) -> Vec<Command> {
        let selected = self
            .objects
            .data
            .as_ref()
            .and_then(|objects| objects.get(self.objects_cursor.selected));
        let (Some(object), Some(bucket)) = (
            selected,
            self.targets.as_ref().and_then(|t| t.bucket.clone()),
        ) else {
            return Vec::new();
        };
        self.preview = Some(preview::ObjectPreview::opening(object.key.clone()));
        vec![Command::LoadObject {
            bucket,
            key: object.key.clone(),
        }]
    }

    /// Opens the rollback dialog for the selected image, unless the function already runs it.
    fn ask_rollback(&mut self) {
        let Some(image) = self
            .images
            .data
            .as_ref()
            .and_then(|images| images.get(self.images_cursor.selected))
        else {
            return;
        };
        let from = self.deployed_digest();
        if from.as_ref() == Some(&image.digest) {
            self.notice = Some(format!(
                "the function already runs {}",
                image.digest.short()
            ));
            return;
        }
        if self
            .deploy
            .as_ref()
            .is_some_and(deploy::DeployView::is_running)
        {
            self.notice = Some("a deploy is running; Esc cancels it".to_owned());
            return;
        }
        self.dialog = Some(deploy::Dialog::Rollback {
            to: image.digest.clone(),
            tags: image.tags.clone(),
            from,
        });
    }

    fn refresh(&mut self) -> Vec<Command> {
        self.function.start();
        vec![Command::LoadFunction {
            name: self.settings.function.clone(),
        }]
    }

    fn function_loaded(&mut self, result: Result<FunctionInfo, AwsError>) -> Vec<Command> {
        let failed = result.is_err();
        self.function.finish(result);
        // Without a fresh answer the targets may be stale; the panes keep what they show.
        let Some(function) = self.function.data.as_ref().filter(|_| !failed) else {
            return Vec::new();
        };
        let targets = Targets::discover(&self.settings, function);
        let mut commands = Vec::new();

        if let Some(repository) = &targets.repository {
            self.images.start();
            commands.push(Command::LoadImages {
                repository: repository.clone(),
            });
        } else {
            self.images.unavailable(
                "finding the ECR repository",
                "the function has no image URI; set `repository` in lambdactl.toml",
            );
        }
        if let Some(bucket) = &targets.bucket {
            self.objects.start();
            self.recorded.start();
            commands.push(Command::LoadObjects {
                bucket: bucket.clone(),
            });
            commands.push(Command::LoadRecorded {
                bucket: bucket.clone(),
            });
        } else {
            let reason = "the function has no S3_BUCKET_NAME variable; pass --bucket";
            self.objects.unavailable("finding the bucket", reason);
            self.recorded.unavailable("finding the bucket", reason);
        }
        self.streams.start();
        commands.push(Command::LoadStreams {
            log_group: targets.log_group.clone(),
        });
        self.targets = Some(targets);
        commands.extend(self.start_tail());
        commands
    }

    fn move_cursor(&mut self, action: &Action) -> Vec<Command> {
        let len = |items: Option<usize>| items.unwrap_or(0);
        match (self.focus, self.logs_focus) {
            (PaneId::Images, _) => {
                self.images_cursor
                    .apply(action, len(self.images.data.as_ref().map(Vec::len)));
            }
            (PaneId::Objects, _) => {
                self.objects_cursor
                    .apply(action, len(self.objects.data.as_ref().map(Vec::len)));
            }
            (PaneId::Logs, LogsFocus::Events) if self.logs_view == LogsView::Live => {
                self.live_cursor.apply(action, self.live.len());
                // Moving away from the newest event holds the view; the last row follows again.
                self.live.following = self.live_cursor.selected + 1 >= self.live.len();
            }
            (PaneId::Logs, LogsFocus::Events) => {
                self.events_cursor
                    .apply(action, len(self.events.data.as_ref().map(Vec::len)));
            }
            (PaneId::Logs, LogsFocus::Streams) => {
                self.streams_cursor
                    .apply(action, len(self.streams.data.as_ref().map(Vec::len)));
                self.logs_view = LogsView::Stream;
                return self.load_selected_stream();
            }
        }
        Vec::new()
    }

    /// Live events keep the streams list current: a stream's last event moves up, and a stream
    /// the list lacks (a new execution environment) is added, newest first, with the selection
    /// kept on its stream. DescribeLogStreams' own last event time can lag by up to an hour.
    fn streams_seen(&mut self, events: &[LogEvent]) {
        let Some(streams) = &mut self.streams.data else {
            return;
        };
        if events.is_empty() {
            return;
        }
        let mut newest: std::collections::HashMap<&str, chrono::DateTime<chrono::Utc>> =
            std::collections::HashMap::new();
        for event in events {
            let at = newest
                .entry(event.stream.as_str())
                .or_insert(event.timestamp);
            *at = (*at).max(event.timestamp);
        }
        let selected = streams
            .get(self.streams_cursor.selected)
            .map(|stream| stream.name.clone());
        for (name, at) in newest {
            match streams.iter_mut().find(|stream| stream.name == name) {
                Some(stream) => stream.last_event = stream.last_event.max(Some(at)),
                None => streams.push(LogStreamInfo {
                    name: name.to_owned(),
                    last_event: Some(at),
                    stored_bytes: None,
                }),
            }
        }
        crate::model::sort_streams_newest_first(streams);
        streams.truncate(usize::try_from(STREAM_LIMIT).unwrap_or(usize::MAX));
        if let Some(at) = selected.and_then(|name| streams.iter().position(|s| s.name == name)) {
            self.streams_cursor.selected = at;
        }
        let len = streams.len();
        self.streams_cursor.selected = self.streams_cursor.selected.min(len.saturating_sub(1));
    }

    /// Loads the events of the selected stream when the selection names a new one.
    fn load_selected_stream(&mut self) -> Vec<Command> {
        let selected = self
            .streams
            .data
            .as_ref()
            .and_then(|streams| streams.get(self.streams_cursor.selected))
            .map(|stream| stream.name.clone());
        let (Some(stream), Some(targets)) = (selected, &self.targets) else {
            return Vec::new();
        };
        let same = self.events_stream.as_deref() == Some(stream.as_str());
        if same && !self.streams.loading && self.events.data.is_some() && !self.function.loading {
            return Vec::new();
        }
        if !same {
            self.events.data = None;
        }
        self.events_stream = Some(stream.clone());
        self.events.start();
        vec![Command::LoadEvents {
            log_group: targets.log_group.clone(),
            stream,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(fill: char) -> Digest {
        Digest::from_hex(&fill.to_string().repeat(64)).unwrap()
    }

    fn function() -> FunctionInfo {
        FunctionInfo {
            name: "python-lambda".into(),
            image_uri: Some(format!(
                "1.dkr.ecr.us-east-1.amazonaws.com/repo@{}",
                digest('a')
            )),
            resolved_image_uri: Some(format!(
                "1.dkr.ecr.us-east-1.amazonaws.com/repo@{}",
                digest('a')
            )),
            bucket_variable: Some("lambda-artifacts-00000000".into()),
            ..FunctionInfo::default()
        }
    }

    fn stream(name: &str) -> LogStreamInfo {
        LogStreamInfo {
            name: name.into(),
            last_event: None,
            stored_bytes: None,
        }
    }

    fn loaded_app() -> App {
        let mut app = App::new(Settings::default(), None, None);
        app.start();
        app.update(Action::FunctionLoaded(Ok(function())));
        app
    }

    /// The loaded app with two objects listed, newest first, and the Objects pane focused.
    fn app_with_objects() -> App {
        let mut app = loaded_app();
        let object = |key: &str, hour: i64| ObjectInfo {
            key: key.into(),
            size_bytes: 10,
            last_modified: chrono::DateTime::from_timestamp(1_764_820_800 + hour * 3_600, 0),
            etag: None,
        };
        app.update(Action::ObjectsLoaded(Ok(vec![
            object("older.json", 1),
            object("newer.json", 2),
        ])));
        app.update(Action::FocusObjects);
        app
    }

    fn head(key: &str, text: &str) -> ObjectHead {
        ObjectHead {
            key: key.into(),
            bytes: text.as_bytes().to_vec(),
            total_bytes: Some(text.len() as u64),
            content_type: None,
        }
    }

    #[test]
    fn saved_and_earlier_payloads_go_into_the_editor_named_in_the_status_line() {
        let mut app = loaded_app();
        app.settings.function = "python-lambda".into();
        let opened = app.update(Action::OpenInvoke);
        assert!(
            opened
                .iter()
                .any(|command| matches!(command, Command::LoadSavedPayloads { .. })),
            "opening the view reads the saved payloads"
        );
        app.update(Action::NextSavedPayload);
        assert!(
            app.notice
                .as_deref()
                .is_some_and(|notice| notice.starts_with("no saved payloads")),
            "{:?}",
            app.notice
        );
        let saved = |name: &str| payloads::SavedPayload {
            name: name.into(),
            text: format!("{{\"file\": \"{name}\"}}"),
        };
        app.update(Action::SavedPayloadsLoaded(vec![
            saved("a.json"),
            saved("b.json"),
        ]));
        let editor_takes = |app: &mut App, action: Action| {
            app.update(action);
            let view = app.invoke.as_mut().unwrap();
            (
                view.for_editor.take(),
                app.notice.clone().unwrap_or_default(),
            )
        };
        let (text, notice) = editor_takes(&mut app, Action::NextSavedPayload);
        assert_eq!(text.as_deref(), Some("{\"file\": \"a.json\"}"));
        assert_eq!(notice, "saved payload a.json (1 of 2)");
        editor_takes(&mut app, Action::NextSavedPayload);
        let (text, notice) = editor_takes(&mut app, Action::NextSavedPayload);
        assert_eq!(text.as_deref(), Some("{\"file\": \"a.json\"}"), "it wraps");
        assert_eq!(notice, "saved payload a.json (1 of 2)");

        let (text, notice) = editor_takes(&mut app, Action::EarlierPayload);
        assert_eq!(text, None, "nothing sent yet");
        assert_eq!(notice, "no payload sent to python-lambda before");
        app.update(Action::HistoryLoaded(vec![
            "{\"n\": 2}".into(),
            "{\"n\": 1}".into(),
        ]));
        editor_takes(&mut app, Action::EarlierPayload);
        let (text, notice) = editor_takes(&mut app, Action::EarlierPayload);
        assert_eq!(text.as_deref(), Some("{\"n\": 1}"));
        assert_eq!(notice, "payload sent before: 2 of 2, newest first");

        app.update(Action::SendInvoke {
            payload: "{\"n\": 3}".into(),
            asynchronous: false,
        });
        let (text, _) = editor_takes(&mut app, Action::EarlierPayload);
        assert_eq!(
            text.as_deref(),
            Some("{\"n\": 3}"),
            "after a send, Ctrl-R starts again from the newest"
        );
        assert_eq!(
            app.invoke.as_ref().unwrap().saved.len(),
            2,
            "saved payloads stay"
        );
    }

    /// A live tail event `millis` after a fixed moment, with an id of its own.
    fn tail_event(millis: i64, stream: &str, message: &str) -> LogEvent {
        LogEvent {
            timestamp: chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + millis).unwrap(),
            stream: stream.into(),
            message: message.into(),
            event_id: Some(format!("{stream}-{millis}")),
        }
    }

    #[test]
    fn search_jumps_between_matches_and_says_where_it_landed() {
        let mut app = loaded_app();
        let events = ["a match", "other", "match two"]
            .iter()
            .zip(0..)
            .map(|(message, n)| tail_event(n * 1000, "s", message))
            .collect();
        app.update(Action::TailEvents(events));
        app.update(Action::Search);
        app.update(Action::SubmitPrompt("MATCH".into()));
        assert_eq!(
            app.live_cursor.selected, 2,
            "following, a new search lands on the newest match"
        );
        assert_eq!(app.notice.as_deref(), Some("match at event 3 of 3"));
        app.update(Action::Decline);
        assert_eq!(app.live_cursor.selected, 0);
        assert_eq!(
            app.notice.as_deref(),
            Some("match at event 1 of 3, wrapped around")
        );
        app.update(Action::PreviousMatch);
        assert_eq!(
            app.notice.as_deref(),
            Some("match at event 3 of 3, wrapped around")
        );
        app.update(Action::PreviousMatch);
        assert_eq!(app.notice.as_deref(), Some("match at event 1 of 3"));
        // Held, a new search goes on from where the view is.
        app.update(Action::Search);
        app.update(Action::SubmitPrompt("two".into()));
        assert_eq!(app.live_cursor.selected, 2);
        assert_eq!(app.notice.as_deref(), Some("match at event 3 of 3"));
        app.update(Action::Search);
        app.update(Action::SubmitPrompt("absent".into()));
        assert_eq!(
            app.notice.as_deref(),
            Some("no event in the live tail matches the search")
        );
    }

    #[test]
    fn enter_on_an_object_opens_its_preview_and_reads_its_start() {
        let mut app = app_with_objects();
        let commands = app.update(Action::Enter);
        assert_eq!(
            commands,
            vec![Command::LoadObject {
                bucket: "lambda-artifacts-00000000".into(),
                key: "newer.json".into(),
            }]
        );
        assert!(app.is_loading(), "the spinner turns while it loads");
        // An answer for an object the preview no longer shows is dropped.
        app.update(Action::ObjectLoaded {
            key: "older.json".into(),
            result: Ok(head("older.json", "old")),
        });
        assert!(app.preview.as_ref().unwrap().loading);
        app.update(Action::ObjectLoaded {
            key: "newer.json".into(),
            result: Ok(head("newer.json", "{\"a\": [1, 2]}")),
        });
        let preview = app.shown_preview().unwrap();
        assert!(preview.json);
        assert_eq!(preview.lines.len(), 6, "{:?}", preview.lines);
    }

    #[test]
    fn the_preview_takes_the_moving_keys_until_esc_closes_it() {
        let mut app = app_with_objects();
        app.update(Action::Enter);
        app.update(Action::ObjectLoaded {
            key: "newer.json".into(),
            result: Ok(head("newer.json", "1\n2\n3\n")),
        });
        app.update(Action::Down);
        assert_eq!(app.preview.as_ref().unwrap().cursor.selected, 1);
        assert_eq!(
            app.objects_cursor.selected, 0,
            "the list stays where it was"
        );
        app.update(Action::Back);
        assert!(app.preview.is_none());
        app.update(Action::Down);
        assert_eq!(app.objects_cursor.selected, 1, "the list moves again");
    }

    #[test]
    fn another_pane_closes_the_preview_and_takes_the_focus() {
        let mut app = app_with_objects();
        app.update(Action::Enter);
        app.update(Action::FocusLogs);
        assert!(app.preview.is_none());
        assert_eq!(app.focus, PaneId::Logs);
        // The help on top keeps Esc for itself.
        app.update(Action::FocusObjects);
        app.update(Action::Enter);
        app.update(Action::ToggleHelp);
        app.update(Action::Back);
        assert!(!app.show_help);
        assert!(app.preview.is_some());
    }

    #[test]
    fn enter_on_an_empty_bucket_opens_nothing() {
        let mut app = loaded_app();
        app.update(Action::ObjectsLoaded(Ok(Vec::new())));
        app.update(Action::FocusObjects);
        assert!(app.update(Action::Enter).is_empty());
        assert!(app.preview.is_none());
    }

    #[test]
    fn a_loaded_function_starts_every_pane_load_from_discovery() {
        let mut app = App::new(Settings::default(), None, None);
        let first = app.start();
        assert!(matches!(first.as_slice(), [Command::LoadFunction { .. }]));
        let commands = app.update(Action::FunctionLoaded(Ok(function())));
        assert_eq!(
            commands,
            vec![
                Command::LoadImages {
                    repository: "repo".into()
                },
                Command::LoadObjects {
                    bucket: "lambda-artifacts-00000000".into()
                },
                Command::LoadRecorded {
                    bucket: "lambda-artifacts-00000000".into()
                },
                Command::LoadStreams {
                    log_group: "/aws/lambda/python-lambda".into()
                },
                Command::StartTail {
                    log_group: "/aws/lambda/python-lambda".into(),
                    filter: None,
                    since_minutes: 15,
                },
            ]
        );
        assert!(app.is_loading());
        assert_eq!(app.deployed_digest(), Some(digest('a')));
    }

    #[test]
    fn a_failed_load_keeps_the_console_running_and_the_old_data() {
        let mut app = loaded_app();
        let error = AwsError {
            doing: "reading function python-lambda".into(),
            code: Some("ThrottlingException".into()),
            message: "Rate exceeded".into(),
            request_id: Some("req-1".into()),
        };
        app.update(Action::Refresh);
        let commands = app.update(Action::FunctionLoaded(Err(error.clone())));
        assert!(commands.is_empty());
        assert!(!app.should_quit);
        assert_eq!(app.function.error, Some(error));
        assert!(
            app.function.data.is_some(),
            "the last good value stays visible"
        );
    }

    #[test]
    fn a_missing_bucket_variable_is_explained_instead_of_loaded() {
        let mut app = App::new(Settings::default(), None, None);
        let without_bucket = FunctionInfo {
            bucket_variable: None,
            ..function()
        };
        let commands = app.update(Action::FunctionLoaded(Ok(without_bucket)));
        assert!(
            !commands
                .iter()
                .any(|c| matches!(c, Command::LoadObjects { .. }))
        );
        let message = app.objects.error.unwrap().to_string();
        assert!(message.contains("S3_BUCKET_NAME"), "{message}");
    }

    #[test]
    fn focus_cycles_and_cursors_stay_inside_their_lists() {
        let mut app = loaded_app();
        app.update(Action::FocusPrevious);
        assert_eq!(app.focus, PaneId::Logs);
        app.update(Action::FocusNext);
        assert_eq!(app.focus, PaneId::Images);

        app.update(Action::Down);
        assert_eq!(
            app.images_cursor.selected, 0,
            "an empty list keeps the cursor at 0"
        );
        let image = |fill| ImageInfo {
            digest: digest(fill),
            tags: vec![],
            pushed_at: None,
            size_bytes: None,
            media_type: None,
        };
        app.update(Action::ImagesLoaded(Ok(vec![
            image('a'),
            image('b'),
            image('c'),
        ])));
        app.update(Action::PageDown);
        assert_eq!(app.images_cursor.selected, 2);
        app.update(Action::Up);
        assert_eq!(app.images_cursor.selected, 1);
        app.update(Action::Top);
        assert_eq!(app.images_cursor.selected, 0);
    }

    #[test]
    fn selecting_a_stream_loads_its_events_and_late_answers_are_dropped() {
        let mut app = loaded_app();
        let commands = app.update(Action::StreamsLoaded(Ok(vec![
            stream("new"),
            stream("old"),
        ])));
        assert_eq!(
            commands,
            vec![Command::LoadEvents {
                log_group: "/aws/lambda/python-lambda".into(),
                stream: "new".into()
            }]
        );

        app.update(Action::FocusLogs);
        let commands = app.update(Action::Down);
        assert!(
            matches!(commands.as_slice(), [Command::LoadEvents { stream, .. }] if stream == "old")
        );

        // The answer for the stream selected before arrives late: it must not be shown.
        let event = LogEvent {
            timestamp: chrono::Utc::now(),
            stream: "new".into(),
            message: "stale".into(),
            event_id: None,
        };
        app.update(Action::EventsLoaded {
            stream: "new".into(),
            result: Ok(vec![event]),
        });
        assert!(app.events.data.is_none());
        assert!(app.events.loading);
    }

    #[test]
    fn back_closes_help_before_it_leaves_the_events() {
        let mut app = loaded_app();
        app.update(Action::FocusLogs);
        app.update(Action::Enter);
        app.update(Action::ToggleHelp);
        app.update(Action::Back);
        assert!(!app.show_help);
        assert_eq!(app.logs_focus, LogsFocus::Events);
        app.update(Action::Back);
        assert_eq!(app.logs_focus, LogsFocus::Streams);
    }

    fn image(fill: char) -> ImageInfo {
        ImageInfo {
            digest: digest(fill),
            tags: vec![],
            pushed_at: None,
            size_bytes: None,
            media_type: None,
        }
    }

    #[test]
    fn a_deploy_asks_before_the_update_and_esc_cancels_it() {
        let mut app = loaded_app();
        let commands = app.update(Action::Deploy);
        assert!(matches!(
            commands.as_slice(),
            [Command::StartDeploy { approval: true, request }] if matches!(request.source, Source::Build { .. })
        ));
        assert!(app.is_loading(), "a running deploy keeps the spinner going");
        assert!(
            app.update(Action::Deploy).is_empty(),
            "one deploy at a time"
        );
        assert!(app.notice.is_some());

        let asked = crate::pipeline::run::Event::AwaitingApproval {
            from: Some(digest('a')),
            to: digest('b'),
        };
        app.update(Action::DeployProgress(asked));
        assert_eq!(
            app.update(Action::Decline),
            vec![Command::AnswerApproval(false)]
        );
        assert_eq!(
            app.update(Action::Back),
            vec![Command::CancelDeploy],
            "Esc cancels a running deploy"
        );
    }

    #[test]
    fn a_yes_approves_and_a_finished_deploy_refreshes_the_panes() {
        let mut app = loaded_app();
        app.update(Action::Deploy);
        let asked = crate::pipeline::run::Event::AwaitingApproval {
            from: None,
            to: digest('b'),
        };
        app.update(Action::DeployProgress(asked));
        assert_eq!(
            app.update(Action::Confirm),
            vec![Command::AnswerApproval(true)]
        );
        let report = crate::pipeline::run::DeployReport {
            action: crate::pipeline::run::DeployAction::Deployed,
            digest: Some(digest('b')),
            previous_digest: Some(digest('a')),
            fingerprint: None,
            steps: vec![],
            error: None,
        };
        let commands = app.update(Action::DeployFinished(report));
        assert!(matches!(
            commands.as_slice(),
            [Command::LoadFunction { .. }]
        ));
        assert!(!app.is_loading() || app.function.loading);
        app.update(Action::Back);
        assert!(app.deploy.is_none(), "Esc closes a finished deploy");
    }

    #[test]
    fn rollback_goes_through_a_dialog_naming_both_digests() {
        let mut app = loaded_app();
        // Sorting newest first reverses the listing when push times are equal.
        app.update(Action::ImagesLoaded(Ok(vec![image('c'), image('a')])));
        app.update(Action::Enter);
        assert!(app.dialog.is_none(), "the running image needs no rollback");
        assert!(
            app.notice
                .as_deref()
                .is_some_and(|notice| notice.contains("already runs"))
        );

        app.update(Action::Down);
        app.update(Action::Enter);
        assert_eq!(
            app.dialog,
            Some(deploy::Dialog::Rollback {
                to: digest('c'),
                tags: vec![],
                from: Some(digest('a'))
            })
        );
        assert!(app.update(Action::Decline).is_empty());
        assert!(app.dialog.is_none());

        app.update(Action::Enter);
        let commands = app.update(Action::Confirm);
        assert!(matches!(
            commands.as_slice(),
            [Command::StartDeploy { approval: false, request }] if request.source == Source::Digest(digest('c'))
        ));
    }

    #[test]
    fn an_invoke_sends_only_json_and_one_at_a_time() {
        let mut app = loaded_app();
        app.update(Action::OpenInvoke);
        let bad = app.update(Action::SendInvoke {
            payload: "{\"a\": }".into(),
            asynchronous: false,
        });
        assert!(bad.is_empty(), "a payload that is not JSON is not sent");
        assert!(
            app.notice
                .as_deref()
                .is_some_and(|notice| notice.starts_with("not sent: the payload is not JSON")),
            "{:?}",
            app.notice
        );
        assert_eq!(
            app.invoke.as_ref().unwrap().result,
            None,
            "no answer is made up"
        );

        let sent = app.update(Action::SendInvoke {
            payload: "{\"a\": 1}".into(),
            asynchronous: true,
        });
        assert!(matches!(
            sent.as_slice(),
            [Command::RememberPayload { .. }, Command::Invoke { asynchronous: true, payload, .. }]
                if payload == b"{\"a\": 1}"
        ));
        assert!(app.is_loading());
        let again = app.update(Action::SendInvoke {
            payload: "{}".into(),
            asynchronous: false,
        });
        assert!(again.is_empty(), "never a second invoke while one runs");

        app.update(Action::InvokeFinished(Err("throttled".into())));
        let view = app.invoke.as_ref().unwrap();
        assert!(!view.sending && view.took.is_some());
        app.update(Action::Back);
        assert!(app.invoke.is_none(), "Esc closes the invoke view");
    }

    fn report(request_id: &str) -> invoke::InvokeReport {
        invoke::InvokeReport::from_outcome(crate::aws::InvokeOutcome {
            status_code: 200,
            function_error: None,
            executed_version: Some("$LATEST".into()),
            request_id: Some(request_id.into()),
            payload: b"{}".to_vec(),
            log_tail: None,
        })
    }

    #[test]
    fn live_events_move_their_streams_up_and_add_new_ones_keeping_the_selection() {
        let mut app = loaded_app();
        let at = |seconds: i64| Some(tail_event(seconds * 1000, "", "").timestamp);
        let stream = |name: &str, seconds: i64| LogStreamInfo {
            name: name.into(),
            last_event: at(seconds),
            stored_bytes: Some(10),
        };
        app.update(Action::StreamsLoaded(Ok(vec![
            stream("a", 1),
            stream("b", 2),
        ])));
        app.update(Action::FocusLogs);
        app.update(Action::Down);
        let names = |app: &App| -> Vec<String> {
            app.streams
                .data
                .iter()
                .flatten()
                .map(|s| s.name.clone())
                .collect()
        };
        assert_eq!(names(&app), ["b", "a"]);
        assert_eq!(app.streams_cursor.selected, 1, "a is selected");
        let event = |stream: &str, seconds: i64| tail_event(seconds * 1000, stream, "line");
        app.update(Action::TailEvents(vec![
            event("a", 5),
            event("c", 4),
            event("a", 3),
        ]));
        assert_eq!(names(&app), ["a", "c", "b"]);
        let streams = app.streams.data.as_ref().unwrap();
        assert_eq!(streams[0].last_event, at(5), "the newest of its events");
        assert_eq!(streams[0].stored_bytes, Some(10));
        assert_eq!(app.streams_cursor.selected, 0, "the selection stays on a");
    }

    #[test]
    fn a_closed_invoke_view_keeps_its_answer_and_one_that_comes_while_closed() {
        let mut app = loaded_app();
        app.update(Action::OpenInvoke);
        app.update(Action::SendInvoke {
            payload: "{}".into(),
            asynchronous: false,
        });
        app.update(Action::Back);
        assert!(app.invoke.is_none());
        assert!(app.is_loading(), "the closed invoke still runs");
        app.update(Action::InvokeFinished(Ok(report("r-7"))));
        assert_eq!(
            app.notice.as_deref(),
            Some("the invoke answered: i shows it")
        );
        app.update(Action::OpenInvoke);
        let view = app.invoke.as_ref().unwrap();
        assert_eq!(view.history, ["{}"], "what was sent is still offered");
        assert!(
            matches!(&view.result, Some(Ok(report)) if report.request_id.as_deref() == Some("r-7")),
            "the answer is there again: {:?}",
            view.result
        );
    }

    #[test]
    fn ctrl_l_finds_the_requests_first_line_or_says_it_has_not_arrived() {
        let mut app = loaded_app();
        app.update(Action::OpenInvoke);
        app.update(Action::SendInvoke {
            payload: "{}".into(),
            asynchronous: false,
        });
        app.update(Action::InvokeFinished(Ok(report("r-7"))));
        app.update(Action::JumpToRequest);
        assert!(app.invoke.is_none() && app.focus == PaneId::Logs);
        assert!(
            app.notice.as_deref().is_some_and(
                |notice| notice.starts_with("no line of request r-7 in the live tail yet")
            ),
            "{:?}",
            app.notice
        );
        let line = |n: i64, message: &str| tail_event(n, "s", message);
        app.update(Action::TailEvents(vec![
            line(0, "other"),
            line(1, "START RequestId: r-7"),
            line(2, "END RequestId: r-7"),
            line(3, "REPORT RequestId: r-7"),
        ]));
        app.update(Action::OpenInvoke);
        app.update(Action::JumpToRequest);
        assert_eq!(app.live_cursor.selected, 1, "its START line, the first");
        assert_eq!(app.notice.as_deref(), Some("match at event 2 of 4"));
    }

    #[test]
    fn the_history_read_again_keeps_what_this_console_sent_that_the_file_lacks() {
        let texts = |items: &[&str]| {
            items
                .iter()
                .map(|item| (*item).to_owned())
                .collect::<Vec<_>>()
        };
        // n3 was just sent here (its write is on the way); cli was sent from the shell.
        let merged = merge_history(&texts(&["n3", "n2", "n1"]), texts(&["cli", "n2", "n1"]));
        assert_eq!(merged, ["n3", "cli", "n2", "n1"]);
        let same = merge_history(&texts(&["n2", "n1"]), texts(&["n2", "n1"]));
        assert_eq!(same, ["n2", "n1"]);
        let many: Vec<String> = (0..60).map(|n| n.to_string()).collect();
        assert_eq!(merge_history(&texts(&["new"]), many).len(), history::KEPT);
    }

    #[test]
    fn ctrl_p_starts_over_when_the_folder_changed() {
        let mut app = loaded_app();
        app.update(Action::OpenInvoke);
        let saved = |name: &str| payloads::SavedPayload {
            name: name.into(),
            text: "{}".into(),
        };
        app.update(Action::SavedPayloadsLoaded(vec![
            saved("a.json"),
            saved("b.json"),
        ]));
        app.update(Action::NextSavedPayload);
        app.update(Action::SavedPayloadsLoaded(vec![
            saved("a.json"),
            saved("b.json"),
        ]));
        app.update(Action::NextSavedPayload);
        assert_eq!(
            app.notice.as_deref(),
            Some("saved payload b.json (2 of 2)"),
            "the same list: on to the next"
        );
        app.update(Action::SavedPayloadsLoaded(vec![
            saved("a.json"),
            saved("added.json"),
            saved("b.json"),
        ]));
        app.update(Action::NextSavedPayload);
        assert_eq!(app.notice.as_deref(), Some("saved payload a.json (1 of 3)"));
    }

    #[test]
    fn a_saved_payload_that_is_not_json_says_so_when_loaded() {
        let mut app = loaded_app();
        app.update(Action::OpenInvoke);
        app.update(Action::SavedPayloadsLoaded(vec![payloads::SavedPayload {
            name: "bad.json".into(),
            text: "{\"a\": }".into(),
        }]));
        app.update(Action::NextSavedPayload);
        let notice = app.notice.clone().unwrap_or_default();
        assert!(
            notice.starts_with("saved payload bad.json (1 of 1); the payload is not JSON"),
            "{notice}"
        );
        app.update(Action::PayloadEdited);
        assert_eq!(
            app.notice, None,
            "editing makes the word on the loaded payload stale"
        );
    }

    #[test]
    fn the_live_tail_follows_until_the_user_moves_and_resumes_at_the_bottom() {
        let mut app = loaded_app();
        assert_eq!(
            app.logs_view,
            LogsView::Live,
            "the Logs pane opens on the live tail"
        );
        let event = |n: i64| tail_event(n, "s", &format!("line {n}"));
        app.update(Action::TailEvents((0..5).map(event).collect()));
        assert_eq!(app.live_cursor.selected, 4);
        app.update(Action::FocusLogs);
        app.update(Action::Enter);
        app.update(Action::Up);
        assert!(!app.live.following, "moving up holds the view");
        app.update(Action::TailEvents(vec![event(5)]));
        assert_eq!(
            app.live_cursor.selected, 3,
            "new events do not move a held view"
        );
        app.update(Action::Bottom);
        assert!(app.live.following, "the last row follows again");

        app.update(Action::TailWaiting {
            throttled: true,
            retry_in_ms: 2100,
            reason: "Rate exceeded".into(),
        });
        assert_eq!(
            app.live.waiting.as_deref(),
            Some("throttled, retrying in 2.1 s: Rate exceeded")
        );
        app.update(Action::TailEvents(vec![]));
        assert_eq!(
            app.live.waiting, None,
            "an answer after a failure means live again"
        );

        app.update(Action::ToggleLive);
        assert_eq!(app.logs_view, LogsView::Stream);
    }

    #[test]
    fn quitting_during_a_deploy_takes_a_second_press() {
        let mut app = loaded_app();
        app.update(Action::Deploy);
        app.update(Action::Quit);
        assert!(!app.should_quit);
        assert!(
            app.notice
                .as_deref()
                .is_some_and(|notice| notice.contains("q again"))
        );
        app.update(Action::Quit);
        assert!(app.should_quit);
    }

    #[test]
    fn key_binding_names_deserialize_into_actions() {
        #[derive(Deserialize)]
        struct Binding {
            action: Action,
        }
        let binding: Binding = toml::from_str("action = \"FocusLogs\"").unwrap();
        assert_eq!(binding.action, Action::FocusLogs);
        assert!(toml::from_str::<Binding>("action = \"Tick\"").is_err());
    }
}
