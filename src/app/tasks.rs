//! Runs the reducer's [`Command`]s as background tasks that report back as [`Action`]s.

use std::collections::HashMap;
use std::mem::discriminant;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::AbortHandle;

use super::{Action, Command, EVENT_LIMIT, STREAM_LIMIT};
use crate::aws::AwsClients;

/// Spawns loads and keeps at most one in flight per kind: the newest request wins.
pub struct Tasks {
    clients: AwsClients,
    actions: UnboundedSender<Action>,
    running: HashMap<std::mem::Discriminant<Command>, AbortHandle>,
}

impl Tasks {
    pub fn new(clients: AwsClients, actions: UnboundedSender<Action>) -> Self {
        Self {
            clients,
            actions,
            running: HashMap::new(),
        }
    }

    /// Starts the command, cancelling an older one of the same kind.
    pub fn run(&mut self, command: Command) {
        let kind = discriminant(&command);
        if let Some(older) = self.running.remove(&kind) {
            older.abort();
        }
        let clients = self.clients.clone();
        let actions = self.actions.clone();
        let handle = tokio::spawn(async move {
            let action = perform(&clients, command).await;
            // The console may have quit while the load ran; nobody is left to tell.
            let _ = actions.send(action);
        });
        self.running.insert(kind, handle.abort_handle());
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for handle in self.running.values() {
            handle.abort();
        }
    }
}

async fn perform(clients: &AwsClients, command: Command) -> Action {
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
        Command::LoadStreams { log_group } => {
            Action::StreamsLoaded(clients.list_log_streams(&log_group, STREAM_LIMIT).await)
        }
        Command::LoadEvents { log_group, stream } => {
            let result = clients
                .recent_stream_events(&log_group, &stream, EVENT_LIMIT)
                .await;
            Action::EventsLoaded { stream, result }
        }
    }
}
