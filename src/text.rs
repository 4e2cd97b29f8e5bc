//! The one sanitizer for text that comes from outside (log lines, object keys, object contents,
//! error messages): nothing it returns can reach a terminal as an escape sequence.
//!
//! A line is played on a model of one terminal row, as wide as the caller allows: SGR sequences
//! set the style of what follows, a carriage return moves back to column 0 so later text
//! overwrites earlier text, erase in line (`ESC[K`) clears, tabs move to the next 8-column stop,
//! and every other escape sequence is dropped. Other control characters are shown as their
//! Unicode pictures. What the row finally shows is returned as styled segments.
//!
//! Escape sequences are recognised by `vte`, the parser of a real terminal (Alacritty), so what
//! counts as one, and where a broken one ends, is what a terminal would decide. Widths are
//! measured per grapheme cluster: `unicode-segmentation` finds the clusters by Unicode's rules
//! and `unicode-width` measures each as a whole, as it knows how wide emoji sequences are.

use std::borrow::Cow;

use unicode_segmentation::{GraphemeCursor, UnicodeSegmentation};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};
use vte::{Params, Perform};

/// Columns between tab stops, as terminals set them by default.
const TAB_WIDTH: usize = 8;

/// The most text one cluster keeps. The longest emoji sequences take about 40 bytes; what joins
/// a cluster beyond this ("Zalgo" text stacking thousands of accents) is dropped, as terminals
/// keep only a few combining marks per cell. It also keeps the cost of each character bounded.
const MAX_CLUSTER_BYTES: usize = 64;

/// Marks where a line was cut to fit. It is not part of [`StyledLine::segments`]: renderers
/// append it when [`StyledLine::truncated`] is set, and the segments leave a column for it.
pub const TRUNCATION_MARKER: char = '…';

/// A colour picked by an SGR sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    Black,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    White,
    BrightBlack,
    BrightRed,
    BrightGreen,
    BrightYellow,
    BrightBlue,
    BrightMagenta,
    BrightCyan,
    BrightWhite,
    /// One of the 256 palette entries (`38;5;n`, `48;5;n`).
    Indexed(u8),
    /// A 24-bit colour (`38;2;r;g;b`, `48;2;r;g;b`).
    Rgb(u8, u8, u8),
}

impl Colour {
    /// The 16 colours of SGR 30–37 and 90–97, in palette order.
    const BASIC: [Colour; 16] = [
        Colour::Black,
        Colour::Red,
        Colour::Green,
        Colour::Yellow,
        Colour::Blue,
        Colour::Magenta,
        Colour::Cyan,
        Colour::White,
        Colour::BrightBlack,
        Colour::BrightRed,
        Colour::BrightGreen,
        Colour::BrightYellow,
        Colour::BrightBlue,
        Colour::BrightMagenta,
        Colour::BrightCyan,
        Colour::BrightWhite,
    ];

    /// Palette entry `index` of the 16 basic colours; callers pass 0 to 15.
    fn basic(index: u16) -> Colour {
        Self::BASIC
            .get(usize::from(index))
            .copied()
            .unwrap_or(Colour::White)
    }
}

/// The look SGR sequences give to text. `None` colours are the terminal's (or theme's) own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent terminal attributes, each switched by its own SGR code"
)]
pub struct SgrStyle {
    pub foreground: Option<Colour>,
    pub background: Option<Colour>,
    pub bold: bool,
    pub dim: bool,
    pub italic: bool,
    pub underline: bool,
    pub reverse: bool,
}

impl SgrStyle {
    /// Applies the parameters of one `ESC[...m` sequence, as xterm reads them: `vte` has already
    /// read an empty list or an empty parameter as 0, and colon-separated sub-parameters
    /// (`38:2::r:g:b`) as one group. Codes that are not modelled (blink, hidden, strike-through)
    /// are ignored, so hidden text still shows.
    fn apply_sgr(&mut self, parameters: &Params) {
        let mut groups = parameters.iter();
        while let Some(group) = groups.next() {
            let &[code] = group else {
                self.apply_sub_parameters(group);
                continue;
            };
            match code {
                0 => *self = Self::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                7 => self.reverse = true,
                22 => {
                    self.bold = false;
                    self.dim = false;
                }
                23 => self.italic = false,
                24 => self.underline = false,
                27 => self.reverse = false,
                30..=37 => self.foreground = Some(Colour::basic(code - 30)),
                39 => self.foreground = None,
                40..=47 => self.background = Some(Colour::basic(code - 40)),
                49 => self.background = None,
                90..=97 => self.foreground = Some(Colour::basic(code - 90 + 8)),
                100..=107 => self.background = Some(Colour::basic(code - 100 + 8)),
                38 => {
                    if let Some(colour) = extended_colour(&mut groups) {
                        self.foreground = Some(colour);
                    }
                }
                48 => {
                    if let Some(colour) = extended_colour(&mut groups) {
                        self.background = Some(colour);
                    }
                }
                // The underline colour is not modelled, but its arguments must not be read as
                // codes of their own.
                58 => {
                    extended_colour(&mut groups);
                }
                // 25 (blink off), 26 (reserved) and everything else change nothing shown here.
                _ => {}
            }
        }
    }

    /// A colon-separated group: `4:n` (underline style, 0 is off) or an extended colour.
    fn apply_sub_parameters(&mut self, group: &[u16]) {
        match *group {
            [4, kind, ..] => self.underline = kind != 0,
            [38, ref colour @ ..] => {
                if let Some(colour) = colon_colour(colour) {
                    self.foreground = Some(colour);
                }
            }
            [48, ref colour @ ..] => {
                if let Some(colour) = colon_colour(colour) {
                    self.background = Some(colour);
                }
            }
            _ => {}
        }
    }
}

/// Reads the arguments of `38`/`48`/`58` in the semicolon form: `5;n` or `2;r;g;b`. They are
/// consumed even when out of range, and then no colour results.
fn extended_colour<'a>(groups: &mut impl Iterator<Item = &'a [u16]>) -> Option<Colour> {
    // An argument with sub-parameters of its own is no number.
    let mut next = || match groups.next()? {
        &[value] => Some(value),
        _ => None,
    };
    match next()? {
        5 => next().and_then(channel).map(Colour::Indexed),
        2 => {
            let (red, green, blue) = (next(), next(), next());
            Some(Colour::Rgb(
                channel(red?)?,
                channel(green?)?,
                channel(blue?)?,
            ))
        }
        _ => None,
    }
}

/// Reads the sub-parameters after `38:`/`48:`: `5:n`, `2:r:g:b` or `2:colour-space:r:g:b`.
fn colon_colour(parts: &[u16]) -> Option<Colour> {
    match *parts {
        [5, index] => channel(index).map(Colour::Indexed),
        [2, red, green, blue] | [2, _, red, green, blue] => {
            Some(Colour::Rgb(channel(red)?, channel(green)?, channel(blue)?))
        }
        _ => None,
    }
}

fn channel(value: u16) -> Option<u8> {
    u8::try_from(value).ok()
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub style: SgrStyle,
}

/// What one line of outside text shows, in styled segments that hold no control character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StyledLine {
    pub segments: Vec<Segment>,
    /// The line did not fit: the segments end a column early, for [`TRUNCATION_MARKER`].
    pub truncated: bool,
}

impl StyledLine {
    /// Columns the line takes, the truncation marker included.
    pub fn width(&self) -> usize {
        let text: usize = self
            .segments
            .iter()
            .map(|segment| display_width(&segment.text))
            .sum();
        text + usize::from(self.truncated)
    }

    /// The shown text without styles, the truncation marker included.
    pub fn text(&self) -> String {
        let mut text: String = self
            .segments
            .iter()
            .map(|segment| segment.text.as_str())
            .collect();
        if self.truncated {
            text.push(TRUNCATION_MARKER);
        }
        text
    }
}

/// Turns one raw line (a log event, a line of an object) into what a terminal row of
/// `max_columns` columns would show, with its SGR colours and attributes.
///
/// A carriage return acts as on a terminal: the next text overwrites the row from column 0 and
/// whatever it does not reach stays, so `abcdef\rXY` shows `XYcdef`; progress bars that clear
/// the rest of the row with `ESC[K` (or the whole row with `ESC[2K`) show only their last state.
/// A `\r\n` inside the line is a line break and shows as `␊`, like a lone `\n`; line endings at
/// the end are dropped.
///
/// `max_columns` is meant to be a screen width: the row keeps that many cells.
///
/// When the row would need more than `max_columns` columns, `truncated` is set and the segments
/// keep `max_columns - 1` columns at most, for the marker; a wide character or cluster that does
/// not fit whole is left out. Text past the last column is passed over until the next carriage
/// return or erase, so a single 300 KB line costs little.
pub fn parse_styled_line(input: &str, max_columns: usize) -> StyledLine {
    play(input, Row::new(max_columns, CarriageReturn::Overwrite), 0)
}

/// What a row of `columns` columns shows of a line scrolled sideways by `skip` columns: the
/// line is played as [`parse_styled_line`] plays it on a row `skip + columns` wide, and the
/// first `skip` columns are left out. A wide character cut by the left edge leaves a space, so
/// what follows stays in its column.
pub fn parse_styled_window(input: &str, skip: usize, columns: usize) -> StyledLine {
    let row = Row::new(skip.saturating_add(columns), CarriageReturn::Overwrite);
    play(input, row, skip)
}

/// The whole text a line shows when played as [`parse_styled_line`] plays it, without styles and
/// however long: what a search of the shown lines looks through. A line without control
/// characters shows as it is and is not copied.
pub fn shown_text(input: &str) -> Cow<'_, str> {
    if input.chars().any(char::is_control) {
        Cow::Owned(parse_styled_line(input, usize::MAX).text())
    } else {
        Cow::Borrowed(input)
    }
}

/// Makes one line of outside text safe and readable on a terminal: ANSI escape sequences are
/// removed, tabs expand to the next tab stop, and every other control character is shown as its
/// visible Unicode picture (ESC as `␛`, CR as `␍`) instead of acting on the terminal.
///
/// Unlike [`parse_styled_line`], a carriage return is shown rather than obeyed and erase in line
/// is dropped like any other sequence: this is for names, keys and messages, where text hidden
/// by overwriting or erasing would mislead.
pub fn sanitize_line(input: &str) -> String {
    play(input, Row::new(usize::MAX, CarriageReturn::Show), 0)
        .segments
        .into_iter()
        .map(|segment| segment.text)
        .collect()
}

/// Columns `text` takes, measured per grapheme cluster. Meant for sanitized text.
pub fn display_width(text: &str) -> usize {
    text.graphemes(true).map(UnicodeWidthStr::width).sum()
}

/// Fits already sanitized text into `width` columns by cutting from the start, so the end,
/// where object keys and ids differ, stays visible; the cut is marked with `…` and never splits
/// a grapheme cluster.
pub fn keep_end(text: &str, width: usize) -> String {
    if display_width(text) <= width {
        return text.to_owned();
    }
    let mut used = TRUNCATION_MARKER.width().unwrap_or(1);
    let mut start = text.len();
    for cluster in text.graphemes(true).rev() {
        let cluster_width = cluster.width();
        if used + cluster_width > width {
            break;
        }
        used += cluster_width;
        start -= cluster.len();
    }
    format!("{TRUNCATION_MARKER}{}", &text[start..])
}

/// Plays one line on `row` and returns what it shows from column `skip` on. Line endings at the
/// end are dropped.
fn play(input: &str, mut row: Row, skip: usize) -> StyledLine {
    let line = input.trim_end_matches(['\n', '\r']);
    let mut parser = vte::Parser::new();
    if row.carriage_return == CarriageReturn::Overwrite {
        // A `\r\n` inside the line breaks it rather than returning over it: the row sees only
        // the `\n`, which it shows. The parser keeps its state between the pieces.
        for (index, piece) in line.split("\r\n").enumerate() {
            if index > 0 {
                parser.advance(&mut row, b"\n");
            }
            parser.advance(&mut row, piece.as_bytes());
        }
    } else {
        parser.advance(&mut row, line.as_bytes());
    }
    // A sequence still open at the end (a lone ESC, an unterminated title) has shown nothing.
    row.finish(skip)
}

/// Bidirectional embeddings, overrides and isolates: invisible, yet able to reorder the text
/// after them on terminals that lay out right-to-left script ("Trojan Source").
fn is_bidi_control(character: char) -> bool {
    matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The visible stand-in for a control character: the Unicode "control pictures" block for
/// C0 and DEL, the replacement character for the C1 range (which has no pictures) and for
/// bidirectional controls.
fn control_picture(control: char) -> char {
    match u32::from(control) {
        code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        _ => '\u{fffd}',
    }
}

/// What a carriage return inside a line does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CarriageReturn {
    /// Back to column 0, as on a terminal: for output such as logs and progress bars.
    Overwrite,
    /// Shown as `␍`: for names and messages.
    Show,
}

/// One column of a [`Row`].
#[derive(Debug, Clone, Copy)]
enum Cell {
    /// Never written or erased: a space when something follows it.
    Blank,
    /// The first column of a grapheme cluster, whose text is `Row::text[start..end]`.
    Cluster {
        start: usize,
        end: usize,
        width: usize,
        style: SgrStyle,
    },
    /// A further column of the wide cluster to its left.
    Continuation,
}

/// One terminal row, `limit` columns wide, with a cursor that may stand past its end. It is
/// what `vte` plays the line on.
struct Row {
    cells: Vec<Cell>,
    /// The text of every cluster placed, overwritten ones included; cells index into it.
    text: String,
    /// A cluster and the character that may join it, for asking where the boundary is.
    candidate: String,
    limit: usize,
    cursor: usize,
    /// Something was placed at or past `limit` and has not been erased since.
    overflow: bool,
    style: SgrStyle,
    carriage_return: CarriageReturn,
}

impl Perform for Row {
    /// Text. DEL and the bidirectional controls come this way too: vte passes them on as text.
    fn print(&mut self, character: char) {
        if self.is_past_limit() {
            return;
        }
        if character.is_control() || is_bidi_control(character) {
            self.picture(character);
        } else {
            self.print_character(character);
        }
    }

    /// C0 controls, and C1 controls written as characters (vte gives them no meaning of their
    /// own, so U+009B is no CSI). CAN and SUB come here after cancelling a sequence.
    fn execute(&mut self, byte: u8) {
        match byte {
            b'\r' if self.carriage_return == CarriageReturn::Overwrite => self.cursor = 0,
            _ if self.is_past_limit() => {}
            b'\t' => self.tab(),
            control => self.picture(char::from(control)),
        }
    }

    /// Acts on the CSI sequences that change what the row shows: SGR (`m`) and, where carriage
    /// returns are obeyed, erase in line (`K`). Private (`ESC[?...`) and intermediate forms of
    /// them, ones with more parameters than vte keeps, and every other CSI sequence do nothing.
    fn csi_dispatch(
        &mut self,
        parameters: &Params,
        intermediates: &[u8],
        ignore: bool,
        action: char,
    ) {
        if ignore || !intermediates.is_empty() {
            return;
        }
        match action {
            'm' => self.style.apply_sgr(parameters),
            'K' if self.carriage_return == CarriageReturn::Overwrite => {
                let mut groups = parameters.iter();
                if let (Some(&[mode]), None) = (groups.next(), groups.next()) {
                    self.erase_in_line(mode);
                }
            }
            _ => {}
        }
    }
}

impl Row {
    fn new(limit: usize, carriage_return: CarriageReturn) -> Self {
        Self {
            cells: Vec::new(),
            text: String::new(),
            candidate: String::new(),
            limit,
            cursor: 0,
            overflow: false,
            style: SgrStyle::default(),
            carriage_return,
        }
    }

    /// Whether printing changes nothing shown until the cursor comes back: something already
    /// lies past the last column and the cursor is beyond it.
    fn is_past_limit(&self) -> bool {
        self.overflow && self.cursor > self.limit
    }

    fn tab(&mut self) {
        self.cursor = (self.cursor / TAB_WIDTH + 1).saturating_mul(TAB_WIDTH);
    }

    /// Prints a character that is not a control character: it extends the cluster just before
    /// the cursor when it belongs to it, or starts a new one. A zero-width character that joins
    /// no cluster (at the start of the row, after a tab, or one Unicode keeps apart, such as a
    /// byte order mark) has nothing to show and is dropped.
    fn print_character(&mut self, character: char) {
        if let Some(head) = self.cluster_before_cursor()
            && let Cell::Cluster { start, end, .. } = self.cells[head]
            && self.joins(start, end, character)
        {
            if end - start + character.len_utf8() <= MAX_CLUSTER_BYTES {
                self.extend_cluster(head, character);
            }
            return;
        }
        let width = character.width().unwrap_or(0);
        if width == 0 {
            return;
        }
        let start = self.text.len();
        self.text.push(character);
        self.place(start, self.text.len(), width, self.style);
    }

    /// Whether `next` belongs to the cluster `text[start..end]`. The cluster starts at a
    /// boundary, so it is all the context Unicode's rules need; asking only about the boundary
    /// before `next` keeps a long cluster from being segmented again for every character.
    fn joins(&mut self, start: usize, end: usize, next: char) -> bool {
        self.candidate.clear();
        self.candidate.push_str(&self.text[start..end]);
        self.candidate.push(next);
        let mut cursor = GraphemeCursor::new(end - start, self.candidate.len(), true);
        cursor.is_boundary(&self.candidate, 0) == Ok(false)
    }

    /// Prints the visible picture of a control character, a cluster of its own.
    fn picture(&mut self, control: char) {
        let picture = control_picture(control);
        let start = self.text.len();
        self.text.push(picture);
        let width = picture.width().unwrap_or(1);
        self.place(start, self.text.len(), width, self.style);
    }

    /// The first column of the cluster that ends right before the cursor, if any.
    fn cluster_before_cursor(&self) -> Option<usize> {
        let last = self.cursor.checked_sub(1)?;
        let head = self.head_of(last)?;
        match self.cells[head] {
            Cell::Cluster { width, .. } if head + width == self.cursor => Some(head),
            _ => None,
        }
    }

    /// The first column of the cluster that covers `column`.
    fn head_of(&self, column: usize) -> Option<usize> {
        let mut index = column;
        loop {
            match self.cells.get(index)? {
                Cell::Cluster { .. } => return Some(index),
                Cell::Continuation => index = index.checked_sub(1)?,
                Cell::Blank => return None,
            }
        }
    }

    /// Adds `character` to the cluster at `head`; if that changes its width (`❤` becomes the
    /// wide `❤️`), the cluster is placed again.
    fn extend_cluster(&mut self, head: usize, character: char) {
        let Cell::Cluster {
            mut start,
            end,
            width,
            style,
        } = self.cells[head]
        else {
            return;
        };
        if end != self.text.len() {
            let cluster = self.text[start..end].to_owned();
            start = self.text.len();
            self.text.push_str(&cluster);
        }
        self.text.push(character);
        let end = self.text.len();
        let new_width = self.text[start..end].width().max(1);
        if new_width == width {
            self.cells[head] = Cell::Cluster {
                start,
                end,
                width,
                style,
            };
        } else {
            self.erase_cluster_at(head);
            self.cursor = head;
            self.place(start, end, new_width, style);
        }
    }

    /// Writes a cluster at the cursor, overwriting (and erasing whole) whatever it covers. One
    /// that does not fit before `limit` is not kept, but what it covers is still erased.
    fn place(&mut self, start: usize, end: usize, width: usize, style: SgrStyle) {
        let first = self.cursor;
        let past = first.saturating_add(width);
        self.cursor = past;
        if past > self.limit {
            self.overflow = true;
            for column in first..self.limit.min(self.cells.len()) {
                self.erase_cluster_at(column);
            }
            return;
        }
        if self.cells.len() < past {
            self.cells.resize(past, Cell::Blank);
        }
        for column in first..past {
            self.erase_cluster_at(column);
        }
        self.cells[first] = Cell::Cluster {
            start,
            end,
            width,
            style,
        };
        self.cells[first + 1..past].fill(Cell::Continuation);
    }

    /// Blanks every column of the cluster that covers `column`, as a terminal does when part
    /// of a wide character is overwritten.
    fn erase_cluster_at(&mut self, column: usize) {
        if let Some(head) = self.head_of(column)
            && let Cell::Cluster { width, .. } = self.cells[head]
        {
            self.cells[head..head + width].fill(Cell::Blank);
        }
    }

    /// `ESC[0K` erases from the cursor to the end of the row, `ESC[1K` from the start through
    /// the cursor, `ESC[2K` all of it. The cursor stays.
    fn erase_in_line(&mut self, mode: u16) {
        match mode {
            0 => {
                if self.cursor < self.cells.len() {
                    self.erase_cluster_at(self.cursor);
                    self.cells.truncate(self.cursor);
                }
                if self.cursor <= self.limit {
                    self.overflow = false;
                }
            }
            1 => {
                let end = self.cursor.saturating_add(1).min(self.cells.len());
                if matches!(self.cells.get(end), Some(Cell::Continuation)) {
                    self.erase_cluster_at(end);
                }
                self.cells[..end].fill(Cell::Blank);
            }
            2 => {
                self.cells.clear();
                self.overflow = false;
            }
            _ => {}
        }
    }

    /// What the row shows: blanks between clusters as spaces, trailing blanks dropped, and one
    /// column left for the marker when something did not fit.
    /// What the row shows from column `skip` on.
    fn finish(self, skip: usize) -> StyledLine {
        let visible = if self.overflow {
            self.limit.saturating_sub(1)
        } else {
            self.limit
        };
        let used = self
            .cells
            .iter()
            .rposition(|cell| !matches!(cell, Cell::Blank))
            .map_or(0, |last| last + 1);
        let mut segments: Vec<Segment> = Vec::new();
        for (column, cell) in self.cells[..used].iter().enumerate().skip(skip) {
            if column >= visible {
                break;
            }
            match *cell {
                Cell::Blank => push_segment(&mut segments, " ", SgrStyle::default()),
                Cell::Cluster {
                    start,
                    end,
                    width,
                    style,
                } => {
                    if column + width > visible {
                        break;
                    }
                    push_segment(&mut segments, &self.text[start..end], style);
                }
                // The rest of a wide cluster whose first column was scrolled off.
                Cell::Continuation if self.head_of(column).is_none_or(|head| head < skip) => {
                    push_segment(&mut segments, " ", SgrStyle::default());
                }
                Cell::Continuation => {}
            }
        }
        StyledLine {
            segments,
            truncated: self.overflow,
        }
    }
}

/// Appends text, to the last segment when the style is the same.
fn push_segment(segments: &mut Vec<Segment>, text: &str, style: SgrStyle) {
    match segments.last_mut() {
        Some(last) if last.style == style => last.text.push_str(text),
        _ => segments.push(Segment {
            text: text.to_owned(),
            style,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

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

    /// Wide enough for every short test line.
    const WIDE: usize = 200;

    fn shown(input: &str, max_columns: usize) -> String {
        parse_styled_line(input, max_columns).text()
    }

    /// The style `ESC[{parameters}m` gives the text after it.
    fn sgr(parameters: &str) -> SgrStyle {
        style_after(SgrStyle::default(), parameters)
    }

    /// The style `ESC[{parameters}m` gives text that already had `before`, set by its own
    /// sequence.
    fn style_after(before: SgrStyle, parameters: &str) -> SgrStyle {
        let mut row = Row::new(WIDE, CarriageReturn::Overwrite);
        row.style = before;
        vte::Parser::new().advance(&mut row, format!("\u{1b}[{parameters}m").as_bytes());
        let style = row.style;
        let line = parse_styled_line(&format!("\u{1b}[{parameters}mx"), WIDE);
        assert_eq!(line.text(), "x", "ESC[{parameters}m");
        if before == SgrStyle::default() {
            assert_eq!(line.segments[0].style, style, "ESC[{parameters}m");
        }
        style
    }

    fn styled(text: &str, style: SgrStyle) -> Segment {
        Segment {
            text: text.to_owned(),
            style,
        }
    }

    #[test]
    fn tabs_expand_by_display_width_in_styled_lines() {
        assert_eq!(shown("ab\tc", WIDE), "ab      c");
        assert_eq!(
            shown("12345678\tx", WIDE),
            format!("12345678{}x", " ".repeat(8))
        );
        assert_eq!(shown("日本\tx", WIDE), format!("日本{}x", " ".repeat(4)));
        // A family emoji is one two-column cluster; a combining accent adds no column.
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(
            shown(&format!("{family}\tx"), WIDE),
            format!("{family}{}x", " ".repeat(6))
        );
        assert_eq!(
            shown("e\u{301}\tx", WIDE),
            format!("e\u{301}{}x", " ".repeat(7))
        );
        // A tab at the end moves the cursor over nothing.
        assert_eq!(shown("ab\t", WIDE), "ab");
    }

    #[test]
    fn each_sgr_attribute_is_read() {
        let default = SgrStyle::default();
        assert_eq!(
            sgr("1"),
            SgrStyle {
                bold: true,
                ..default
            }
        );
        assert_eq!(
            sgr("2"),
            SgrStyle {
                dim: true,
                ..default
            }
        );
        assert_eq!(
            sgr("3"),
            SgrStyle {
                italic: true,
                ..default
            }
        );
        assert_eq!(
            sgr("4"),
            SgrStyle {
                underline: true,
                ..default
            }
        );
        assert_eq!(
            sgr("7"),
            SgrStyle {
                reverse: true,
                ..default
            }
        );
        let all = sgr("1;2;3;4;7;31;42");
        assert!(all.bold && all.dim && all.italic && all.underline && all.reverse);
        assert_eq!(
            style_after(all, "22"),
            SgrStyle {
                bold: false,
                dim: false,
                ..all
            }
        );
        assert_eq!(
            style_after(all, "23"),
            SgrStyle {
                italic: false,
                ..all
            }
        );
        assert_eq!(
            style_after(all, "24"),
            SgrStyle {
                underline: false,
                ..all
            }
        );
        assert_eq!(style_after(all, "25"), all);
        assert_eq!(style_after(all, "26"), all);
        assert_eq!(
            style_after(all, "27"),
            SgrStyle {
                reverse: false,
                ..all
            }
        );
        assert_eq!(
            style_after(all, "39"),
            SgrStyle {
                foreground: None,
                ..all
            }
        );
        assert_eq!(
            style_after(all, "49"),
            SgrStyle {
                background: None,
                ..all
            }
        );
        for reset in ["0", "", "00"] {
            assert_eq!(style_after(all, reset), default, "ESC[{reset}m");
        }
        // Blink, hidden and strike-through are not modelled: hidden text stays visible.
        assert_eq!(sgr("5;8;9"), default);
        assert_eq!(shown("\u{1b}[8msecret", WIDE), "secret");
    }

    #[test]
    fn each_basic_colour_is_read() {
        for (offset, colour) in Colour::BASIC[..8].iter().enumerate() {
            let bright = Colour::BASIC[offset + 8];
            let foreground = |colour| SgrStyle {
                foreground: Some(colour),
                ..SgrStyle::default()
            };
            let background = |colour| SgrStyle {
                background: Some(colour),
                ..SgrStyle::default()
            };
            assert_eq!(sgr(&(30 + offset).to_string()), foreground(*colour));
            assert_eq!(sgr(&(40 + offset).to_string()), background(*colour));
            assert_eq!(sgr(&(90 + offset).to_string()), foreground(bright));
            assert_eq!(sgr(&(100 + offset).to_string()), background(bright));
        }
        assert_eq!(sgr("31").foreground, Some(Colour::Red));
        assert_eq!(sgr("97").foreground, Some(Colour::BrightWhite));
        assert_eq!(sgr("100").background, Some(Colour::BrightBlack));
    }

    #[test]
    fn extended_colours_are_read() {
        assert_eq!(sgr("38;5;196").foreground, Some(Colour::Indexed(196)));
        assert_eq!(sgr("48;5;0").background, Some(Colour::Indexed(0)));
        assert_eq!(
            sgr("38;2;255;128;0").foreground,
            Some(Colour::Rgb(255, 128, 0))
        );
        assert_eq!(sgr("48;2;1;2;3").background, Some(Colour::Rgb(1, 2, 3)));
        // The colon forms of ITU T.416, with and without a colour space.
        assert_eq!(sgr("38:5:33").foreground, Some(Colour::Indexed(33)));
        assert_eq!(
            sgr("38:2::10:20:30").foreground,
            Some(Colour::Rgb(10, 20, 30))
        );
        assert_eq!(
            sgr("48:2:10:20:30").background,
            Some(Colour::Rgb(10, 20, 30))
        );
        assert_eq!(
            sgr("4:3"),
            SgrStyle {
                underline: true,
                ..SgrStyle::default()
            }
        );
        assert_eq!(style_after(sgr("4"), "4:0"), SgrStyle::default());
        // Codes after an extended colour still apply; out-of-range colours are ignored, and
        // their arguments are not taken for codes.
        assert_eq!(
            sgr("38;5;21;1"),
            SgrStyle {
                foreground: Some(Colour::Indexed(21)),
                bold: true,
                ..SgrStyle::default()
            }
        );
        assert_eq!(sgr("38;5;300"), SgrStyle::default());
        assert_eq!(sgr("38;2;1;999;3"), SgrStyle::default());
        assert_eq!(sgr("58;2;1;2;3"), SgrStyle::default());
        assert_eq!(sgr("38;5"), SgrStyle::default());
        assert_eq!(sgr("38"), SgrStyle::default());
        assert_eq!(
            sgr("99999999999999999999;1"),
            SgrStyle {
                bold: true,
                ..SgrStyle::default()
            }
        );
    }

    #[test]
    fn nested_styles_and_resets_make_segments() {
        let line = parse_styled_line(
            "plain \u{1b}[1mbold \u{1b}[31mred\u{1b}[22m thin\u{1b}[0m plain\u{1b}[m",
            WIDE,
        );
        let bold = SgrStyle {
            bold: true,
            ..SgrStyle::default()
        };
        let bold_red = SgrStyle {
            foreground: Some(Colour::Red),
            ..bold
        };
        let red = SgrStyle {
            foreground: Some(Colour::Red),
            ..SgrStyle::default()
        };
        assert_eq!(
            line.segments,
            [
                styled("plain ", SgrStyle::default()),
                styled("bold ", bold),
                styled("red", bold_red),
                styled(" thin", red),
                styled(" plain", SgrStyle::default()),
            ]
        );
        assert!(!line.truncated);
    }

    #[test]
    fn other_csi_sequences_are_removed() {
        for sequence in [
            "\u{1b}[2J",
            "\u{1b}[10;10H",
            "\u{1b}[?25l",
            "\u{1b}[?1049h",
            "\u{1b}[3A",
            "\u{1b}[6n",
            "\u{1b}[0c",
            "\u{1b}[1;2r",
            "\u{1b}[ q",
        ] {
            assert_eq!(shown(&format!("a{sequence}b"), WIDE), "ab", "{sequence:?}");
        }
        // Private and intermediate forms of `m` set no style.
        for sequence in ["\u{1b}[>4;1m", "\u{1b}[?1m", "\u{1b}[1 m"] {
            let line = parse_styled_line(&format!("{sequence}x"), WIDE);
            assert_eq!(
                line.segments,
                [styled("x", SgrStyle::default())],
                "{sequence:?}"
            );
        }
    }

    #[test]
    fn osc_dcs_and_other_escapes_are_removed() {
        assert_eq!(shown("\u{1b}]0;evil title\u{7}text", WIDE), "text");
        assert_eq!(shown("\u{1b}]2;evil title\u{1b}\\text", WIDE), "text");
        assert_eq!(
            shown(
                "\u{1b}]8;;https://example.com\u{1b}\\link\u{1b}]8;;\u{1b}\\ after",
                WIDE
            ),
            "link after"
        );
        assert_eq!(shown("a\u{1b}P1$r0m\u{1b}\\b", WIDE), "ab");
        assert_eq!(shown("a\u{1b}_apc \u{7} still apc\u{1b}\\b", WIDE), "ab");
        assert_eq!(shown("a\u{1b}(Bb\u{1b}7c\u{1b}=d", WIDE), "abcd");
        // An unterminated title swallows the rest of the line, as on a terminal.
        assert_eq!(shown("a\u{1b}]0;no end", WIDE), "a");
        // CAN ends a sequence on a terminal; here it is then shown.
        assert_eq!(shown("a\u{1b}]0;x\u{18}b", WIDE), "a\u{2418}b");
    }

    #[test]
    fn a_lone_or_broken_escape_leaves_no_escape() {
        assert_eq!(shown("tail\u{1b}", WIDE), "tail");
        assert_eq!(shown("tail\u{1b}[", WIDE), "tail");
        assert_eq!(shown("tail\u{1b}[31;", WIDE), "tail");
        assert_eq!(shown("\u{1b}\u{1b}\u{1b}[31mred", WIDE), "red");
        // As on a terminal, a character that cannot be part of a sequence is passed over in it
        // (here the `é`; the `b` then ends `ESC b`), and a C0 control inside one acts (here it
        // is shown) without ending it.
        assert_eq!(shown("a\u{1b}\u{e9}b", WIDE), "a");
        let line = parse_styled_line("a\u{1b}[3\u{1}1mb", WIDE);
        let red = SgrStyle {
            foreground: Some(Colour::Red),
            ..SgrStyle::default()
        };
        assert_eq!(
            line.segments,
            [styled("a\u{2401}", SgrStyle::default()), styled("b", red)]
        );
        // Whatever is in between, nothing of a sequence is left to act on a terminal.
        for broken in [
            "a\u{1b}\u{e9}\u{1b}",
            "\u{1b}[\u{e9}\u{1b}]\u{7}\u{1b}P\u{9c}x",
        ] {
            let text = shown(broken, WIDE);
            assert!(
                !text.chars().any(char::is_control),
                "{broken:?} gave {text:?}"
            );
        }
    }

    #[test]
    fn the_shown_text_is_what_the_row_shows_whole() {
        assert!(matches!(
            shown_text("plain 日本"),
            Cow::Borrowed("plain 日本")
        ));
        assert_eq!(shown_text("\u{1b}[31mFAIL\u{1b}[0med"), "FAILed");
        assert_eq!(
            shown_text("downloading 10%\rdownloading 100%"),
            "downloading 100%"
        );
        // However long: the tab after 300,000 columns still goes to the next stop.
        let long = format!("{}\t!", "x".repeat(300_000));
        assert_eq!(
            shown_text(&long),
            format!("{}{}!", "x".repeat(300_000), " ".repeat(8))
        );
    }

    #[test]
    fn a_window_scrolled_sideways_shows_the_columns_after_the_skip() {
        let window = |input: &str, skip, columns| parse_styled_window(input, skip, columns).text();
        assert_eq!(window("0123456789", 3, 4), "345…");
        assert_eq!(window("0123456789", 6, 4), "6789");
        assert_eq!(window("0123456789", 20, 4), "");
        // Tabs, carriage returns and erases are played on the whole row first.
        assert_eq!(window("a\tb", 4, 10), "    b");
        assert_eq!(window("progress 10%\rprogress 100%", 9, 10), "100%");
        // A wide character cut by the left edge leaves a space; one cut by the right is left
        // out for the marker.
        assert_eq!(window("日本語", 1, 4), " 本…");
        assert_eq!(window("日本語", 1, 5), " 本語");
        // Styles stay with their text.
        let line = parse_styled_window("\u{1b}[31mred\u{1b}[0m plain", 2, 20);
        assert_eq!(line.segments[0].text, "d");
        assert_eq!(line.segments[0].style, sgr("31"));
        assert_eq!(line.segments[1].text, " plain");
    }

    #[test]
    fn carriage_returns_overwrite_like_a_terminal() {
        assert_eq!(
            shown("downloading 10%\rdownloading 100%", WIDE),
            "downloading 100%"
        );
        assert_eq!(shown("abcdef\rXY", WIDE), "XYcdef");
        assert_eq!(shown("[##  ] 50%\r[####] 100%\r", WIDE), "[####] 100%");
        // Progress bars that clear the rest of the row leave no stale characters.
        assert_eq!(shown("progress 100%\r\u{1b}[Kdone", WIDE), "done");
        assert_eq!(shown("progress 100%\r\u{1b}[2Kdone", WIDE), "done");
        assert_eq!(shown("progress 100%\rdone\u{1b}[0K", WIDE), "done");
        assert_eq!(shown("abcdef\rab\u{1b}[1K", WIDE), "   def");
        // Overwriting half of a wide character erases all of it.
        assert_eq!(shown("日本\rX", WIDE), "X 本");
        assert_eq!(shown("ab日\rabc", WIDE), "abc");
        // Styles carry across the carriage return; the old text keeps its own.
        let line = parse_styled_line("\u{1b}[31mred text\r\u{1b}[32mgreen", WIDE);
        let green = SgrStyle {
            foreground: Some(Colour::Green),
            ..SgrStyle::default()
        };
        let red = SgrStyle {
            foreground: Some(Colour::Red),
            ..SgrStyle::default()
        };
        assert_eq!(line.segments, [styled("green", green), styled("ext", red)]);
        // sanitize_line shows carriage returns instead, and erases nothing.
        assert_eq!(sanitize_line("abcdef\rXY"), "abcdef\u{240d}XY");
        assert_eq!(sanitize_line("abc\u{1b}[2Kdef\u{1b}[1K"), "abcdef");
    }

    #[test]
    fn crlf_line_endings() {
        assert_eq!(shown("line\r\n", WIDE), "line");
        assert_eq!(shown("line\n", WIDE), "line");
        assert_eq!(shown("first\r\nsecond\r\n", WIDE), "first\u{240a}second");
        assert_eq!(sanitize_line("line\r\n"), "line");
    }

    #[test]
    fn control_characters_are_shown_as_pictures() {
        assert_eq!(
            shown("\u{0}\u{1}\u{7}\u{8}\u{b}\u{c}\u{1f}\u{7f}", WIDE),
            "\u{2400}\u{2401}\u{2407}\u{2408}\u{240b}\u{240c}\u{241f}\u{2421}"
        );
        // C1 controls, CSI among them, have no pictures.
        assert_eq!(
            shown("a\u{80}\u{85}\u{9b}31m\u{9f}b", WIDE),
            "a\u{fffd}\u{fffd}\u{fffd}31m\u{fffd}b"
        );
        // Bidirectional overrides cannot reorder what follows.
        assert_eq!(
            shown("\u{202e}gnp.exe\u{2066}x\u{2069}", WIDE),
            "\u{fffd}gnp.exe\u{fffd}x\u{fffd}"
        );
        assert_eq!(sanitize_line("key\u{202e}fdp.exe"), "key\u{fffd}fdp.exe");
    }

    #[test]
    fn emoji_and_japanese_are_measured_per_cluster() {
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        let flag = "\u{1f1ef}\u{1f1f5}";
        let thumbs = "\u{1f44d}\u{1f3fd}";
        let heart = "\u{2764}\u{fe0f}";
        let keycap = "1\u{fe0f}\u{20e3}";
        let england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
        for emoji in [family, flag, thumbs, heart, keycap, england] {
            assert_eq!(display_width(emoji), 2, "{emoji}");
            assert_eq!(emoji.graphemes(true).count(), 1, "{emoji}");
            let line = parse_styled_line(&format!("{emoji}|"), WIDE);
            assert_eq!(
                (line.text(), line.width()),
                (format!("{emoji}|"), 3),
                "{emoji}"
            );
        }
        let japanese = "日本語のログ";
        assert_eq!(parse_styled_line(japanese, WIDE).width(), 12);
        assert_eq!(display_width("ｶﾞ"), 2);
        // Two flags side by side are two clusters, not one odd pair and a half.
        assert_eq!(
            "\u{1f1ef}\u{1f1f5}\u{1f1eb}\u{1f1f7}"
                .graphemes(true)
                .count(),
            2
        );
        // A joiner after text that is no emoji joins nothing after it.
        assert_eq!("a\u{200d}\u{1f469}".graphemes(true).count(), 2);
        // A zero-width character with nothing before it has nothing to show.
        assert_eq!(shown("\u{feff}abc", WIDE), "abc");
        // Writing a variation selector widens the heart.
        assert_eq!(shown(&format!("{heart}\rX"), WIDE), "X");
    }

    #[test]
    fn truncation_never_splits_a_cluster() {
        let line = parse_styled_line("日本語", 4);
        assert_eq!(
            (line.text(), line.truncated, line.width()),
            ("日…".to_owned(), true, 3)
        );
        assert_eq!(shown("日本語", 5), "日本…");
        assert_eq!(shown("日本語", 6), "日本語");
        assert_eq!(shown("abcde", 5), "abcde");
        assert_eq!(shown("abcdef", 5), "abcd…");
        assert_eq!(shown("abcdef", 1), "…");
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(shown(&format!("ab{family}cd"), 4), "ab…");
        assert_eq!(shown(&format!("ab{family}cd"), 5), format!("ab{family}…"));
        assert_eq!(shown("abcd\u{1f1ef}\u{1f1f5}", 5), "abcd…");
        // An accent on the last column that fits stays with its letter.
        assert_eq!(shown("abcde\u{301}", 5), "abcde\u{301}");
        assert_eq!(shown("abcde\u{301}f", 5), "abcd…");
        // Nothing fits in no columns; the line is still marked as cut.
        let nothing = parse_styled_line("abc", 0);
        assert!(nothing.segments.is_empty() && nothing.truncated);
        assert!(!parse_styled_line("", 0).truncated);
    }

    #[test]
    fn a_carriage_return_can_bring_back_a_cut_line() {
        // The long first frame stays past the edge on a terminal, so the line is still cut…
        assert_eq!(
            shown(&format!("{}\rshort", "x".repeat(50)), 10),
            "shortxxxx…"
        );
        // …unless the rest of the row is erased.
        assert_eq!(
            shown(&format!("{}\r\u{1b}[Kshort", "x".repeat(50)), 10),
            "short"
        );
        // Styles set past the edge still apply after the carriage return.
        let line = parse_styled_line(&format!("{}\u{1b}[1m\r\u{1b}[2Kbold", "x".repeat(50)), 10);
        assert_eq!(
            line.segments,
            [styled(
                "bold",
                SgrStyle {
                    bold: true,
                    ..SgrStyle::default()
                }
            )]
        );
        assert!(!line.truncated);
    }

    #[test]
    fn keep_end_does_not_split_clusters() {
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        assert_eq!(keep_end(&format!("x{family}yz"), 4), "…yz");
        assert_eq!(
            keep_end(&format!("xx{family}yz"), 5),
            format!("…{family}yz")
        );
        assert_eq!(keep_end("abce\u{301}", 3), "…ce\u{301}");
    }

    /// A JSON document of about 300 KB on one line, like a large S3 object without newlines.
    fn big_json() -> String {
        let mut json = String::from("{\"items\":[");
        let mut index = 0;
        while json.len() < 300_000 {
            write!(
                json,
                "{{\"id\":{index},\"name\":\"item-{index}\",\"tags\":[\"a\",\"\u{65e5}\u{672c}\"]}},"
            )
            .unwrap();
            index += 1;
        }
        json.push_str("{}]}");
        json
    }

    #[test]
    fn a_300_kb_single_line_is_fast() {
        let json = big_json();
        assert!(json.len() >= 300_000);
        let started = std::time::Instant::now();
        let line = parse_styled_line(&json, 200);
        let elapsed = started.elapsed();
        println!(
            "parse_styled_line, {} bytes into 200 columns: {elapsed:?}",
            json.len()
        );
        assert!(line.truncated);
        assert!(line.width() <= 200);
        assert!(json.starts_with(line.segments[0].text.as_str()));
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");

        // Progress frames over the whole line: each carriage return brings the cursor back.
        let mut frames = String::new();
        let mut percent = 0;
        while frames.len() < 300_000 {
            write!(
                frames,
                "\r\u{1b}[32m{}\u{1b}[0m {}%",
                "#".repeat(percent % 400),
                percent % 101
            )
            .unwrap();
            percent += 1;
        }
        let started = std::time::Instant::now();
        let line = parse_styled_line(&frames, 120);
        let elapsed = started.elapsed();
        println!(
            "parse_styled_line, {} bytes of progress frames: {elapsed:?}",
            frames.len()
        );
        assert!(line.width() <= 120);
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");

        // Unlimited width keeps every column, still in linear time.
        let started = std::time::Instant::now();
        let sanitized = sanitize_line(&json);
        let elapsed = started.elapsed();
        println!("sanitize_line, {} bytes: {elapsed:?}", json.len());
        assert_eq!(sanitized, json);
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    }

    #[test]
    fn stacked_accents_stay_cheap_and_bounded() {
        let zalgo = format!("a{}b", "\u{301}".repeat(150_000));
        let started = std::time::Instant::now();
        let line = parse_styled_line(&zalgo, 80);
        let sanitized = sanitize_line(&zalgo);
        let elapsed = started.elapsed();
        println!(
            "{} bytes of stacked accents, twice: {elapsed:?}",
            zalgo.len()
        );
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(line.width(), 2);
        assert!(line.text().len() <= MAX_CLUSTER_BYTES + "b".len());
        assert_eq!(sanitized, line.text());
        assert_eq!(display_width(&zalgo), 2);
    }

    /// xorshift64*: deterministic, so a failure can be replayed.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, bound: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
        }
    }

    /// Pieces that hostile lines are made of, joined at random with random bytes.
    const PIECES: &[&str] = &[
        "\u{1b}",
        "\u{1b}[",
        "\u{1b}]",
        "\u{1b}P",
        "\u{1b}\\",
        "[",
        "]",
        ";",
        ":",
        "m",
        "K",
        "H",
        "?",
        "0",
        "1",
        "2",
        "5",
        "38;5;",
        "48;2;",
        "\r",
        "\n",
        "\r\n",
        "\t",
        "\u{7}",
        "\u{18}",
        "\u{7f}",
        "\u{9b}",
        "\u{9c}",
        "\u{85}",
        "a",
        "xyz",
        " ",
        "日本",
        "\u{301}",
        "\u{200d}",
        "\u{fe0f}",
        "\u{fe0e}",
        "\u{1f468}",
        "\u{1f3fd}",
        "\u{1f1ef}",
        "\u{2764}",
        "\u{feff}",
        "\u{202e}",
        "ｶﾞ",
        "\u{1160}",
        "\u{231a}",
    ];

    #[test]
    fn random_input_never_yields_control_characters_or_overflows() {
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        for round in 0..3000 {
            let mut bytes = Vec::new();
            for _ in 0..random.below(40) {
                if random.below(4) == 0 {
                    bytes.push(u8::try_from(random.below(256)).unwrap());
                } else {
                    bytes.extend_from_slice(PIECES[random.below(PIECES.len())].as_bytes());
                }
            }
            let input = String::from_utf8_lossy(&bytes);
            let max_columns = 1 + random.below(30);
            let line = parse_styled_line(&input, max_columns);
            let text = line.text();
            assert!(
                !text
                    .chars()
                    .any(|character| character.is_control() || is_bidi_control(character)),
                "round {round}: {input:?} gave {text:?}"
            );
            assert!(
                line.width() <= max_columns,
                "round {round}: {input:?} gave {text:?}"
            );
            assert!(
                text.width() <= max_columns,
                "round {round}: {input:?} gave {text:?}"
            );
            assert!(!line.truncated || text.ends_with(TRUNCATION_MARKER));
            let sanitized = sanitize_line(&input);
            assert!(
                !sanitized
                    .chars()
                    .any(|character| character.is_control() || is_bidi_control(character)),
                "round {round}: {input:?} gave {sanitized:?}"
            );
        }
    }
}
