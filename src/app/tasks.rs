//! Runs the reducer's [`Command`]s as background tasks that report back as [`Action`]s.

use std::collections::HashMap;
use std::mem::discriminant;

use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;

use super::{Action, Command, EVENT_LIMIT, STREAM_LIMIT};
use std::ops::ControlFlow;

use super::tail::{TailUpdate, follow};
use crate::aws::AwsClients;
use crate::pipeline::run::{self, DeployRequest};

/// Spawns loads and keeps at most one in flight per kind: the newest request wins.
pub struct Tasks {
    clients: AwsClients,
    actions: UnboundedSender<Action>,
    running: HashMap<std::mem::Discriminant<Command>, AbortHandle>,
    /// The running deploy's cancel switch and, while it waits, its approval answer.
    deploy: Option<(CancellationToken, Option<oneshot::Sender<bool>>)>,
}

impl Tasks {
    pub fn new(clients: AwsClients, actions: UnboundedSender<Action>) -> Self {
        Self {
            clients,
            actions,
            running: HashMap::new(),
            deploy: None,
        }
    }

    /// Starts the command, cancelling an older one of the same kind.
    pub fn run(&mut self, command: Command) {
        let command = match command {
            Command::StartDeploy { request, approval } => {
                return self.start_deploy(request, approval);
            }
            Command::AnswerApproval(yes) => {
                if let Some(answer) = self.deploy.as_mut().and_then(|(_, answer)| answer.take()) {
                    let _ = answer.send(yes);
                }
                return;
            }
            Command::CancelDeploy => {
                if let Some((cancel, _)) = &self.deploy {
                    cancel.cancel();
                }
                return;
            }
            load => load,
        };
        let kind = discriminant(&command);
        if let Some(older) = self.running.remove(&kind) {
            older.abort();
        }
        let clients = self.clients.clone();
        let actions = self.actions.clone();
        let handle = tokio::spawn(async move {
            let action = perform(&clients, command, &actions).await;
            // The console may have quit while the load ran; nobody is left to tell.
            let _ = actions.send(action);
        });
        self.running.insert(kind, handle.abort_handle());
    }
}

impl Tasks {
    /// Runs the pipeline in the background. Its events arrive as actions, all of them before
    /// the final report, so the view never misses a step.
    fn start_deploy(&mut self, request: DeployRequest, approval: bool) {
        let cancel = CancellationToken::new();
        let (answer, approval) = if approval {
            let (sender, receiver) = oneshot::channel();
            (Some(sender), Some(receiver))
        } else {
            (None, None)
        };
        self.deploy = Some((cancel.clone(), answer));
        let clients = self.clients.clone();
        let actions = self.actions.clone();
        let handle = tokio::spawn(async move {
            let (events, mut received) = mpsc::unbounded_channel();
            let forward_to = actions.clone();
            let forward = tokio::spawn(async move {
                while let Some(event) = received.recv().await {
                    let _ = forward_to.send(Action::DeployProgress(event));
                }
            });
            let report =
                run::deploy_with_approval(&clients, &request, &events, &cancel, approval).await;
            drop(events);
            let _ = forward.await;
            let _ = actions.send(Action::DeployFinished(report));
        });
        self.running
            .insert(discriminant(&Command::CancelDeploy), handle.abort_handle());
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for handle in self.running.values() {
            handle.abort();
        }
    }
}

/// Waits while the function wakes (saying so), then invokes it once.
async fn invoke(
    clients: &AwsClients,
    function: &str,
    payload: Vec<u8>,
    asynchronous: bool,
    actions: &UnboundedSender<Action>,
) -> Action {
    use super::invoke::{InvokeReadiness, InvokeReport, client_timeout, invoke_readiness};

    let deadline = std::time::Instant::now() + std::time::Duration::from_mins(5);
    let info = loop {
        let info = match clients.get_function(function).await {
            Ok(info) => info,
            Err(error) => return Action::InvokeFinished(Err(error.to_string())),
        };
        match invoke_readiness(&info) {
            InvokeReadiness::Ready => break info,
            InvokeReadiness::Failed(reason) => {
                return Action::InvokeFinished(Err(format!("not invoked: {reason}")));
            }
            InvokeReadiness::Waking(reason) if std::time::Instant::now() < deadline => {
                let _ = actions.send(Action::InvokeWaking(reason));
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
            InvokeReadiness::Waking(reason) => {
                return Action::InvokeFinished(Err(format!("gave up after 5 minutes: {reason}")));
            }
        }
    };
    let outcome = clients
        .invoke(function, payload, asynchronous, client_timeout(&info))
        .await;
    let report = outcome
        .map(InvokeReport::from_outcome)
        .map_err(|error| error.to_string());
    Action::InvokeFinished(report)
}

async fn perform(
    clients: &AwsClients,
    command: Command,
    actions: &UnboundedSender<Action>,
) -> Action {
    match command {
        Command::LoadFunction { name } => Action::FunctionLoaded(clients.get_function(&name).await),
        Command::LoadImages { repository } => {
            Action::ImagesLoaded(clients.list_images(&repository).await)
        }
        Command::LoadRecorded { bucket } => {
            Action::RecordedLoaded(clients.recorded_digest(&bucket).await)
        }
        Command::LoadObjects { bucket } => {
            Action::ObjectsLoaded(clients.list_objects(&bucket).await)
        }
        Command::LoadObject { bucket, key } => {
            let result = clients
                .read_object_head(&bucket, &key, super::preview::PREVIEW_BYTES)
                .await;
            Action::ObjectLoaded { key, result }
        }
        Command::LoadStreams { log_group } => {
            Action::StreamsLoaded(clients.list_log_streams(&log_group, STREAM_LIMIT).await)
        }
        Command::Invoke {
            function,
            payload,
            asynchronous,
        } => invoke(clients, &function, payload, asynchronous, actions).await,
        Command::StartTail {
            log_group,
            filter,
            since_minutes,
        } => {
            let since = chrono::Utc::now() - chrono::Duration::minutes(since_minutes);
            let report = |update: TailUpdate| {
                let action = match update {
                    TailUpdate::Events(events) => Action::TailEvents(events),
                    TailUpdate::Waiting {
                        throttled,
                        retry_in,
                        reason,
                    } => Action::TailWaiting {
                        throttled,
                        retry_in_ms: retry_in.as_millis(),
                        reason,
                    },
                    TailUpdate::Note(note) => Action::TailNote(note),
                };
                // Nobody listens once the console has closed: then the tail stops.
                match actions.send(action) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(_) => ControlFlow::Break(()),
                }
            };
            follow(clients, &log_group, filter, since, report).await;
            Action::TailWaiting {
                throttled: false,
                retry_in_ms: 0,
                reason: "the tail stopped".into(),
            }
        }
        Command::LoadHistory { function } => {
            let history = super::history::folder()
                .map(|folder| super::history::load(&folder, &function))
                .unwrap_or_default();
            Action::HistoryLoaded(history)
        }
        Command::LoadSavedPayloads { folder } => {
            Action::SavedPayloadsLoaded(super::payloads::load(&folder))
        }
        Command::RememberPayload { function, payload } => {
            let saved = super::history::folder()
                .map(|folder| super::history::remember(&folder, &function, &payload));
            if let Some(Err(error)) = saved {
                // Losing one history entry is no reason to interrupt the user.
                tracing::warn!(%error, "could not save the payload history");
            }
            Action::Tick
        }
        Command::StartDeploy { .. } | Command::AnswerApproval(_) | Command::CancelDeploy => {
            unreachable!("Tasks::run handles deploy commands itself")
        }
        Command::LoadEvents { log_group, stream } => {
            let result = clients
                .recent_stream_events(&log_group, &stream, EVENT_LIMIT)
                .await;
            Action::EventsLoaded { stream, result }
        }
    }
}
