//! The preview of one object of the bucket: its start read once, shown as lines of text, JSON
//! pretty-printed. The lines are made when the object arrives, so drawing only picks the rows
//! that fit.

use super::{Action, Cursor, SCROLL_STEP};
use crate::aws::AwsError;
use crate::model::ObjectHead;

/// How much of an object the preview reads: the function's JSON documents whole, a 300 KB
/// single-line document too, and never so much that a large object weighs on the console.
pub const PREVIEW_BYTES: usize = 1024 * 1024;

/// An open preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPreview {
    pub key: String,
    pub loading: bool,
    pub error: Option<AwsError>,
    /// What is shown, one line of text each, raw: the view sanitizes them as it draws.
    pub lines: Vec<String>,
    /// Whether the lines are the object's JSON, pretty-printed.
    pub json: bool,
    /// The object's size when only its start was read.
    pub partial_of: Option<u64>,
    /// The highlighted line; the view scrolls to keep it in sight.
    pub cursor: Cursor,
    /// Columns scrolled off to the left.
    pub scroll: usize,
}

impl ObjectPreview {
    /// A preview of `key`, waiting for its bytes.
    pub fn opening(key: String) -> Self {
        Self {
            key,
            loading: true,
            error: None,
            lines: Vec::new(),
            json: false,
            partial_of: None,
            cursor: Cursor::default(),
            scroll: 0,
        }
    }

    /// The object's start arrived, or could not be read.
    pub fn loaded(&mut self, result: Result<ObjectHead, AwsError>) {
        self.loading = false;
        match result {
            Ok(head) => {
                (self.lines, self.json) = preview_lines(&head);
                self.partial_of = head.total_bytes.filter(|_| head.is_partial());
                self.error = None;
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// Moves through the lines or sideways; `false` for an action the preview does not take.
    pub fn apply(&mut self, action: &Action) -> bool {
        match action {
            Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Top
            | Action::Bottom => self.cursor.apply(action, self.lines.len()),
            Action::ScrollLeft => self.scroll = self.scroll.saturating_sub(SCROLL_STEP),
            Action::ScrollRight => self.scroll += SCROLL_STEP,
            _ => return false,
        }
        true
    }
}

/// The lines of an object's start: pretty-printed when it is whole and parses as JSON, else its
/// text split at line ends, with bytes that are not UTF-8 replaced by `�`. A carriage return
/// that ends no line stays in its line, for the view to play as a terminal would.
pub fn preview_lines(head: &ObjectHead) -> (Vec<String>, bool) {
    let text = String::from_utf8_lossy(&head.bytes);
    if !head.is_partial()
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(&text)
        && let Ok(pretty) = serde_json::to_string_pretty(&value)
    {
        return (pretty.lines().map(str::to_owned).collect(), true);
    }
    (text.lines().map(str::to_owned).collect(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8], total: Option<u64>) -> ObjectHead {
        ObjectHead {
            key: "data-2026-12-04_05-00-00-000000-0a1b2c3d.json".into(),
            bytes: bytes.to_vec(),
            total_bytes: total,
            content_type: None,
        }
    }

    #[test]
    fn a_whole_json_object_is_pretty_printed() {
        let (lines, json) = preview_lines(&head(br#"{"id":1,"title":"a\tb"}"#, Some(23)));
        assert!(json);
        assert_eq!(lines, ["{", r#"  "id": 1,"#, r#"  "title": "a\tb""#, "}"]);
    }

    #[test]
    fn a_partial_or_broken_object_shows_as_text() {
        let start = br#"{"id": 1, "items": [1, 2"#;
        let (lines, json) = preview_lines(&head(start, Some(300_000)));
        assert!(!json, "the start of a document is not parsed");
        assert_eq!(lines, [r#"{"id": 1, "items": [1, 2"#]);
        let (lines, json) = preview_lines(&head(b"one\r\ntwo\rTWO\n\xff three", None));
        assert!(!json);
        assert_eq!(lines, ["one", "two\rTWO", "\u{fffd} three"]);
    }

    #[test]
    fn the_preview_moves_within_its_lines_and_scrolls_sideways() {
        let mut preview = ObjectPreview::opening("k".into());
        preview.loaded(Ok(head(b"1\n2\n3\n", Some(6))));
        assert!(preview.apply(&Action::Bottom));
        assert_eq!(preview.cursor.selected, 2);
        assert!(preview.apply(&Action::Down));
        assert_eq!(preview.cursor.selected, 2, "stays on the last line");
        assert!(preview.apply(&Action::ScrollRight));
        assert_eq!(preview.scroll, SCROLL_STEP);
        assert!(!preview.apply(&Action::Deploy));
    }

    #[test]
    fn a_failed_read_keeps_the_reason_and_no_lines() {
        let mut preview = ObjectPreview::opening("k".into());
        preview.loaded(Err(AwsError {
            doing: "reading s3://b/k".into(),
            code: Some("AccessDenied".into()),
            message: "Access Denied".into(),
            request_id: Some("R1".into()),
        }));
        assert!(!preview.loading);
        assert!(preview.lines.is_empty());
        assert_eq!(
            preview.error.as_ref().and_then(|e| e.code.as_deref()),
            Some("AccessDenied")
        );
    }
}
