//! The interactive console: terminal setup, the event loop, drawing and key bindings.

pub mod keymap;
pub mod styled;
mod terminal;
pub mod theme;
pub mod view;

use std::time::Duration;

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::app::tasks::Tasks;
use crate::app::{Action, App};
use crate::aws::AwsClients;
use keymap::Keymap;
use theme::Theme;

/// How often the spinner moves while something loads.
const TICK: Duration = Duration::from_millis(120);

/// Whether keys go to the payload editor rather than the key bindings.
fn editing(app: &App) -> bool {
    app.invoke.is_some() && app.deploy.is_none() && app.dialog.is_none() && !app.show_help
}

/// A one-line prompt (search, filter pattern): Enter submits, Esc cancels, other keys edit.
fn edit_prompt(view: &mut view::ViewState, key: KeyEvent) -> Option<Action> {
    let prompt = view
        .prompt
        .get_or_insert_with(ratatui_textarea::TextArea::default);
    match key.code {
        KeyCode::Esc => {
            view.prompt = None;
            Some(Action::Back)
        }
        KeyCode::Enter => {
            let text = prompt.lines().concat();
            view.prompt = None;
            Some(Action::SubmitPrompt(text))
        }
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Some(Action::Quit),
        _ => {
            prompt.input(key);
            None
        }
    }
}

/// The invoke editor's own keys; every other key edits the payload.
fn edit_payload(view: &mut view::ViewState, key: KeyEvent) -> Option<Action> {
    let editor = view.editor.get_or_insert_with(view::ViewState::new_editor);
    let control = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => Some(Action::Back),
        KeyCode::Char('c') if control => Some(Action::Quit),
        KeyCode::Char('s' | 'e') if control => Some(Action::SendInvoke {
            payload: editor.lines().join("\n"),
            asynchronous: key.code == KeyCode::Char('e'),
        }),
        KeyCode::Char('l') if control => Some(Action::JumpToRequest),
        KeyCode::Char('p') if control => Some(Action::NextSavedPayload),
        KeyCode::Char('r') if control => Some(Action::EarlierPayload),
        // A changed text makes what the status line said of a loaded payload stale.
        _ => editor.input(key).then_some(Action::PayloadEdited),
    }
}

/// Puts a payload in the editor by clearing it and inserting the text rather than replacing
/// the editor, so Ctrl-U (undo, twice) brings back what was there.
fn load_into_editor(view: &mut view::ViewState, text: &str) {
    let editor = view.editor.get_or_insert_with(view::ViewState::new_editor);
    editor.clear();
    editor.insert_str(text.trim_end_matches(['\n', '\r']));
    editor.move_cursor(ratatui_textarea::CursorMove::Top);
    editor.move_cursor(ratatui_textarea::CursorMove::Head);
}

/// Runs the console until the user quits or the terminal goes away.
pub async fn run(mut app: App, clients: AwsClients, keymap: Keymap) -> anyhow::Result<()> {
    let (sender, mut actions) = mpsc::unbounded_channel();
    let mut tasks = Tasks::new(clients, sender);
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let theme = Theme::from_env();

    let mut guard = terminal::TerminalGuard::enter()?;
    let mut view = view::ViewState::default();
    let mut input = EventStream::new();
    let mut ticks = tokio::time::interval(TICK);
    for command in app.start() {
        tasks.run(command);
    }
    tracing::info!(function = %app.settings.function, "console started");

    while !app.should_quit {
        guard
            .terminal
            .draw(|frame| view::draw(frame, &app, &keymap, theme, &mut view))?;
        let action = tokio::select! {
            event = input.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind == KeyEventKind::Press => {
                    if app.prompt.is_some() {
                        edit_prompt(&mut view, key)
                    } else if editing(&app) {
                        edit_payload(&mut view, key)
                    } else {
                        keymap.action_for(key)
                    }
                }
                Some(Ok(_)) => None,
                Some(Err(error)) => return Err(anyhow::Error::new(error).context("reading the terminal")),
                // The terminal is gone (an ssh drop): nothing is left to draw on.
                None => Some(Action::Quit),
            },
            Some(action) = actions.recv() => Some(action),
            _ = ticks.tick(), if app.is_loading() => Some(Action::Tick),
            _ = hangup.recv() => Some(Action::Quit),
            _ = terminate.recv() => Some(Action::Quit),
        };
        if let Some(action) = action {
            for command in app.update(action) {
                tasks.run(command);
            }
            let loaded = app
                .invoke
                .as_mut()
                .and_then(|invoke| invoke.for_editor.take());
            if let Some(text) = loaded {
                load_into_editor(&mut view, &text);
            }
        }
    }
    tracing::info!("console closed");
    drop(guard);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loaded_payload_replaces_the_draft_and_undo_brings_the_draft_back() {
        let mut view = view::ViewState::default();
        view.editor = Some(ratatui_textarea::TextArea::from(["my draft"]));
        load_into_editor(&mut view, "{\n  \"order\": 7\n}\n");
        let editor = view.editor.as_mut().unwrap();
        assert_eq!(editor.lines(), ["{", "  \"order\": 7", "}"]);
        assert_eq!(editor.cursor(), (0, 0), "the cursor at the top");
        editor.undo();
        editor.undo();
        assert_eq!(editor.lines(), ["my draft"]);
    }
}
