//! The one sanitizer for text that comes from outside (log lines, object keys, error messages):
//! nothing it returns can reach a terminal as an escape sequence.

use unicode_width::UnicodeWidthChar;

/// Columns between tab stops, as terminals set them by default.
const TAB_WIDTH: usize = 8;

/// Makes one line of outside text safe and readable on a terminal: ANSI escape sequences are
/// removed, tabs expand to the next tab stop, and every other control character is shown as its
/// visible Unicode picture (ESC as `␛`, CR as `␍`) instead of acting on the terminal.
pub fn sanitize_line(input: &str) -> String {
    let trimmed = input.trim_end_matches(['\n', '\r']);
    let mut output = String::with_capacity(trimmed.len());
    let mut column = 0;
    // The ANSI stripper drops tabs and bare control characters along with the sequences, so
    // the text is cut at those characters and each piece is stripped on its own.
    for piece in trimmed.split_inclusive(is_boundary) {
        let (text, boundary) = match piece.chars().last() {
            Some(last) if is_boundary(last) => {
                (&piece[..piece.len() - last.len_utf8()], Some(last))
            }
            _ => (piece, None),
        };
        for printable in strip_ansi_escapes::strip_str(text)
            .chars()
            .filter(|c| !c.is_control())
        {
            output.push(printable);
            column += printable.width().unwrap_or(0);
        }
        match boundary {
            Some('\t') => {
                let spaces = TAB_WIDTH - column % TAB_WIDTH;
                output.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            Some(control) => {
                let picture = control_picture(control);
                output.push(picture);
                column += picture.width().unwrap_or(1);
            }
            None => {}
        }
    }
    output
}

/// Control characters that are shown (or expanded) rather than taken as part of an escape
/// sequence: all of them but ESC, which starts one, and BEL, which ends a title sequence.
fn is_boundary(character: char) -> bool {
    character.is_control() && character != '\u{1b}' && character != '\u{7}'
}

/// Fits already sanitized text into `width` columns by cutting from the start, so the end,
/// where object keys and ids differ, stays visible; the cut is marked with `…`.
pub fn keep_end(text: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthStr;

    if text.width() <= width {
        return text.to_owned();
    }
    let mut kept = Vec::new();
    let mut used = 1;
    for character in text.chars().rev() {
        let character_width = character.width().unwrap_or(0);
        if used + character_width > width {
            break;
        }
        used += character_width;
        kept.push(character);
    }
    std::iter::once('…').chain(kept.into_iter().rev()).collect()
}

/// The visible stand-in for a control character: the Unicode "control pictures" block for
/// C0 and DEL, the replacement character for the C1 range, which has no pictures.
fn control_picture(control: char) -> char {
    match u32::from(control) {
        code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_removed() {
        assert_eq!(sanitize_line("\u{1b}[31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(sanitize_line("\u{1b}]0;title\u{7}text\u{1b}[2J"), "text");
        // A lone ESC at the end starts nothing the terminal could act on.
        assert!(!sanitize_line("tail\u{1b}").contains('\u{1b}'));
    }

    #[test]
    fn other_control_characters_become_visible() {
        let line = sanitize_line("a\u{1}b\rc\u{7f}d\u{9b}31me");
        assert_eq!(line, "a\u{2401}b\u{240d}c\u{2421}d\u{fffd}31me");
        assert!(!line.chars().any(char::is_control));
    }

    #[test]
    fn tabs_expand_to_the_next_stop_by_display_width() {
        assert_eq!(sanitize_line("ab\tc"), "ab      c");
        // A wide character takes two columns, so the tab adds six spaces, not seven.
        assert_eq!(sanitize_line("日\tx"), format!("日{}x", " ".repeat(6)));
    }

    #[test]
    fn long_text_keeps_its_end() {
        assert_eq!(keep_end("data-2026-12-03.json", 30), "data-2026-12-03.json");
        assert_eq!(keep_end("data-2026-12-03.json", 10), "…2-03.json");
        // Wide characters count two columns each.
        assert_eq!(keep_end("キーキー", 5), "…キー");
    }

    #[test]
    fn a_trailing_newline_is_dropped_and_inner_ones_are_shown() {
        assert_eq!(sanitize_line("one\ntwo\n"), "one\u{240a}two");
    }
}
