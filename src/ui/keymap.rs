//! Key bindings: the defaults embedded from `assets/keymap.toml`, patched by the `[keys]` table
//! of `lambdactl.toml`.

use std::collections::BTreeMap;

use crokey::KeyCombination;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::app::Action;

const DEFAULTS: &str = include_str!("../../assets/keymap.toml");

/// A binding that could not be read, with the key or action it named.
#[derive(Debug, thiserror::Error)]
pub enum KeymapError {
    #[error("key binding {key:?}: {message}")]
    Key { key: String, message: String },
    #[error(
        "key binding {key:?}: unknown action {action:?}; the actions are {}",
        action_names()
    )]
    Action { key: String, action: String },
}

/// Which action each key combination triggers.
#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: BTreeMap<KeyCombination, Action>,
}

impl Keymap {
    /// The defaults with the user's overrides laid over them.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, KeymapError> {
        let defaults: BTreeMap<String, String> =
            toml::from_str(DEFAULTS).expect("assets/keymap.toml is valid TOML");
        let mut bindings = BTreeMap::new();
        for (key, action) in defaults.iter().chain(overrides) {
            bindings.insert(parse_key(key)?, parse_action(key, action)?);
        }
        Ok(Self { bindings })
    }

    /// The action bound to a key press, if any.
    pub fn action_for(&self, event: KeyEvent) -> Option<Action> {
        let combination = KeyCombination::from(event);
        if let Some(action) = self.bindings.get(&combination) {
            return Some(action.clone());
        }
        // Terminals report shift with symbols such as `?` and with BackTab; a binding written
        // without it must still match.
        let is_letter = matches!(event.code, KeyCode::Char(c) if c.is_alphabetic());
        if event.modifiers.contains(KeyModifiers::SHIFT) && !is_letter {
            let plain = KeyEvent::new(event.code, event.modifiers - KeyModifiers::SHIFT);
            return self.bindings.get(&KeyCombination::from(plain)).cloned();
        }
        None
    }

    /// The shortest key bound to an action, for the footer's hints.
    pub fn key_for(&self, action: &Action) -> Option<String> {
        self.bindings
            .iter()
            .filter(|(_, bound)| *bound == action)
            .map(|(key, _)| key_label(key))
            .min_by_key(String::len)
    }

    /// Every key bound to each action, in a stable order, for the help overlay and README.
    pub fn keys_by_action(&self) -> Vec<(Action, Vec<String>)> {
        let mut grouped: Vec<(Action, Vec<String>)> = Vec::new();
        for (key, action) in &self.bindings {
            match grouped.iter_mut().find(|(known, _)| known == action) {
                Some((_, keys)) => keys.push(key_label(key)),
                None => grouped.push((action.clone(), vec![key_label(key)])),
            }
        }
        grouped.sort_by_key(|(action, _)| super::theme::action_order(action));
        grouped
    }
}

/// A key as the user knows it: `G` and `Shift-Tab` where crokey says `Shift-g` and `BackTab`.
fn key_label(key: &KeyCombination) -> String {
    let name = key.to_string();
    if name == "BackTab" {
        return "Shift-Tab".to_owned();
    }
    match name.strip_prefix("Shift-") {
        Some(letter) if letter.chars().count() == 1 && letter.chars().all(char::is_alphabetic) => {
            letter.to_uppercase()
        }
        _ => name,
    }
}

fn action_names() -> String {
    let names: Vec<String> = super::theme::BINDABLE_ACTIONS
        .iter()
        .map(|action| format!("{action:?}"))
        .collect();
    names.join(", ")
}

fn parse_key(key: &str) -> Result<KeyCombination, KeymapError> {
    crokey::parse(key).map_err(|error| KeymapError::Key {
        key: key.to_owned(),
        message: error.to_string(),
    })
}

fn parse_action(key: &str, action: &str) -> Result<Action, KeymapError> {
    let error = || KeymapError::Action {
        key: key.to_owned(),
        action: action.to_owned(),
    };
    Action::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(action))
        .map_err(|_| error())
}

use serde::Deserialize as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_bind_the_documented_keys() {
        let keymap = Keymap::with_overrides(&BTreeMap::new()).unwrap();
        let cases = [
            (press(KeyCode::Char('q'), KeyModifiers::NONE), Action::Quit),
            (
                press(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Action::Quit,
            ),
            (press(KeyCode::Tab, KeyModifiers::NONE), Action::FocusNext),
            (
                press(KeyCode::BackTab, KeyModifiers::SHIFT),
                Action::FocusPrevious,
            ),
            (
                press(KeyCode::Char('?'), KeyModifiers::SHIFT),
                Action::ToggleHelp,
            ),
            (
                press(KeyCode::Char('G'), KeyModifiers::SHIFT),
                Action::Bottom,
            ),
            (press(KeyCode::Char('g'), KeyModifiers::NONE), Action::Top),
            (
                press(KeyCode::Char('3'), KeyModifiers::NONE),
                Action::FocusLogs,
            ),
            (
                press(KeyCode::PageDown, KeyModifiers::NONE),
                Action::PageDown,
            ),
        ];
        for (event, action) in cases {
            assert_eq!(keymap.action_for(event), Some(action), "{event:?}");
        }
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('z'), KeyModifiers::NONE)),
            None
        );
    }

    #[test]
    fn keys_are_named_as_the_user_types_them() {
        let keymap = Keymap::with_overrides(&BTreeMap::new()).unwrap();
        assert_eq!(keymap.key_for(&Action::Bottom).as_deref(), Some("G"));
        assert_eq!(keymap.key_for(&Action::PreviousMatch).as_deref(), Some("N"));
        let previous = keymap
            .keys_by_action()
            .into_iter()
            .find(|(action, _)| *action == Action::FocusPrevious)
            .map(|(_, keys)| keys);
        assert_eq!(previous, Some(vec!["Shift-Tab".to_owned()]));
        assert_eq!(keymap.key_for(&Action::Quit).as_deref(), Some("q"));
    }

    #[test]
    fn overrides_replace_single_bindings() {
        let overrides = BTreeMap::from([
            ("x".to_owned(), "Quit".to_owned()),
            ("q".to_owned(), "Refresh".to_owned()),
        ]);
        let keymap = Keymap::with_overrides(&overrides).unwrap();
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(
            keymap.action_for(press(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Refresh)
        );
    }

    #[test]
    fn bad_overrides_name_the_key_and_the_action() {
        let unknown = BTreeMap::from([("x".to_owned(), "Explode".to_owned())]);
        let message = Keymap::with_overrides(&unknown).unwrap_err().to_string();
        assert!(
            message.contains("\"x\"") && message.contains("Explode"),
            "{message}"
        );
        let internal = BTreeMap::from([("x".to_owned(), "Tick".to_owned())]);
        assert!(Keymap::with_overrides(&internal).is_err());
        let bad_key = BTreeMap::from([("ctrl-nope".to_owned(), "Quit".to_owned())]);
        assert!(Keymap::with_overrides(&bad_key).is_err());
    }
}
