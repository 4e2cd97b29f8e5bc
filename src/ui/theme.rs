//! Every style and user-facing label of the console, so a colour or a word changes in one line.
//!
//! Colours come from the 16-colour palette, which tmux and old terminals keep intact, and no
//! state is shown by colour alone: selection is reversed and marked, digests are labelled.

use ratatui::style::{Color, Modifier, Style};

use crate::app::{Action, PaneId};

/// The colours in use; `plain` when `NO_COLOR` is set.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    colour: bool,
}

impl Theme {
    /// Honours `NO_COLOR` (any non-empty value), as <https://no-color.org> asks.
    pub fn from_env() -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        if no_colour {
            Self::plain()
        } else {
            Self::coloured()
        }
    }

    /// Colours off, as `NO_COLOR` asks: state shows through reversal, marks and labels alone.
    pub fn plain() -> Self {
        Self { colour: false }
    }

    /// Colours on, for snapshots that must not depend on the environment.
    pub fn coloured() -> Self {
        Self { colour: true }
    }

    /// Whether colours are on: outside text keeps its own ANSI colours only then.
    pub fn colours(self) -> bool {
        self.colour
    }

    fn fg(self, colour: Color) -> Style {
        if self.colour {
            Style::new().fg(colour)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(self, focused: bool) -> Style {
        if focused {
            self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
        } else {
            self.fg(Color::DarkGray)
        }
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn header_label(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn value(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn good(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warning(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        self.fg(Color::DarkGray)
    }

    pub fn column_header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }
}

/// Put before the selected row, so selection shows without colour too.
pub const SELECTED_SYMBOL: &str = "> ";
pub const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
pub const APP_NAME: &str = "lambdactl";
pub const DEPLOYED_MARK: &str = "deployed";
pub const RECORDED_MARK: &str = "recorded";
pub const UNKNOWN: &str = "-";
pub const LOADING: &str = "loading…";

/// The pane's title, with its focus key.
pub fn pane_title(pane: PaneId) -> &'static str {
    match pane {
        PaneId::Images => "1 Images",
        PaneId::Objects => "2 Objects",
        PaneId::Logs => "3 Logs",
    }
}

/// What an action does, for the help overlay.
pub fn action_description(action: &Action) -> &'static str {
    match action {
        Action::Quit => "quit",
        Action::Refresh => "reload everything",
        Action::ToggleHelp => "show or hide this help",
        Action::FocusNext => "focus the next pane",
        Action::FocusPrevious => "focus the previous pane",
        Action::FocusImages => "focus Images",
        Action::FocusObjects => "focus Objects",
        Action::FocusLogs => "focus Logs",
        Action::Up => "move up",
        Action::Down => "move down",
        Action::PageUp => "page up",
        Action::PageDown => "page down",
        Action::Top => "go to the first row",
        Action::Bottom => "go to the last row",
        Action::Enter => "Logs: the stream's events; Objects: preview it; Images: roll back to it",
        Action::Back => "back, close, or cancel the running deploy",
        Action::Deploy => "build and deploy (asks before the update)",
        Action::ToggleLive => "Logs: the live tail of every stream, or the selected stream",
        Action::ToggleFollow => "Logs: follow the newest event, or hold the view",
        Action::Search => "Logs: search the live tail (n next, N previous)",
        Action::PreviousMatch => "Logs: previous search match",
        Action::FilterPattern => "Logs: CloudWatch filter pattern for the live tail",
        Action::ToggleWrap => "Logs: wrap long lines, or cut them",
        Action::CycleTimeRange => "Logs: start the live tail 15 min, 1 h, 6 h or 1 day back",
        Action::ScrollLeft => "Logs: scroll left",
        Action::ScrollRight => "Logs: scroll right",
        Action::OpenInvoke => "invoke: a payload editor, its Ctrl keys on the bottom line",
        Action::Confirm => "yes, in a dialog",
        Action::Decline => "no, in a dialog; next search match in Logs",
        _ => "",
    }
}

/// The actions a key can be bound to, in the order the help overlay lists them.
pub const BINDABLE_ACTIONS: [Action; 29] = [
    Action::FocusImages,
    Action::FocusObjects,
    Action::FocusLogs,
    Action::FocusNext,
    Action::FocusPrevious,
    Action::Up,
    Action::Down,
    Action::PageUp,
    Action::PageDown,
    Action::Top,
    Action::Bottom,
    Action::Enter,
    Action::Back,
    Action::ToggleLive,
    Action::ToggleFollow,
    Action::Search,
    Action::PreviousMatch,
    Action::FilterPattern,
    Action::ToggleWrap,
    Action::CycleTimeRange,
    Action::ScrollLeft,
    Action::ScrollRight,
    Action::Deploy,
    Action::OpenInvoke,
    Action::Confirm,
    Action::Decline,
    Action::Refresh,
    Action::ToggleHelp,
    Action::Quit,
];

/// The order actions are listed in the help overlay.
pub fn action_order(action: &Action) -> usize {
    BINDABLE_ACTIONS
        .iter()
        .position(|known| known == action)
        .unwrap_or(BINDABLE_ACTIONS.len())
}
