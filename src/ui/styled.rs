//! Outside text with its own ANSI styles (log lines, object contents) as ratatui lines.
//!
//! `text::parse_styled_line` has already removed every escape sequence and control character;
//! this only maps the styles it read onto ratatui's. Colours left unset keep the surrounding
//! widget's (the theme's), so plain log text looks like any other text.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::text::{Colour, SgrStyle, StyledLine, TRUNCATION_MARKER};

/// The line to draw for `styled`, with the `…` marker when it was cut. With `theme_colour`
/// false (`NO_COLOR`), colours and dimming are dropped and only bold, italic, underline and
/// reverse stay.
pub fn to_line(styled: &StyledLine, theme_colour: bool) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = styled
        .segments
        .iter()
        .map(|segment| Span::styled(segment.text.clone(), to_style(segment.style, theme_colour)))
        .collect();
    if styled.truncated {
        spans.push(Span::raw(TRUNCATION_MARKER.to_string()));
    }
    Line::from(spans)
}

/// The ratatui style for an SGR style; see [`to_line`] for `theme_colour`.
pub fn to_style(sgr: SgrStyle, theme_colour: bool) -> Style {
    let mut style = Style::new();
    if theme_colour {
        if let Some(foreground) = sgr.foreground {
            style = style.fg(to_colour(foreground));
        }
        if let Some(background) = sgr.background {
            style = style.bg(to_colour(background));
        }
        if sgr.dim {
            style = style.add_modifier(Modifier::DIM);
        }
    }
    for (on, modifier) in [
        (sgr.bold, Modifier::BOLD),
        (sgr.italic, Modifier::ITALIC),
        (sgr.underline, Modifier::UNDERLINED),
        (sgr.reverse, Modifier::REVERSED),
    ] {
        if on {
            style = style.add_modifier(modifier);
        }
    }
    style
}

/// The ratatui colour that sends the same SGR code. ratatui calls ANSI white `Gray` and bright
/// white `White`, and the bright colours `Light…` (bright black is `DarkGray`).
pub fn to_colour(colour: Colour) -> Color {
    match colour {
        Colour::Black => Color::Black,
        Colour::Red => Color::Red,
        Colour::Green => Color::Green,
        Colour::Yellow => Color::Yellow,
        Colour::Blue => Color::Blue,
        Colour::Magenta => Color::Magenta,
        Colour::Cyan => Color::Cyan,
        Colour::White => Color::Gray,
        Colour::BrightBlack => Color::DarkGray,
        Colour::BrightRed => Color::LightRed,
        Colour::BrightGreen => Color::LightGreen,
        Colour::BrightYellow => Color::LightYellow,
        Colour::BrightBlue => Color::LightBlue,
        Colour::BrightMagenta => Color::LightMagenta,
        Colour::BrightCyan => Color::LightCyan,
        Colour::BrightWhite => Color::White,
        Colour::Indexed(index) => Color::Indexed(index),
        Colour::Rgb(red, green, blue) => Color::Rgb(red, green, blue),
    }
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;
    use ratatui::widgets::Widget;

    use super::*;
    use crate::text::parse_styled_line;

    #[test]
    fn sgr_colours_map_to_the_same_ratatui_colours() {
        let expected = [
            Color::Black,
            Color::Red,
            Color::Green,
            Color::Yellow,
            Color::Blue,
            Color::Magenta,
            Color::Cyan,
            Color::Gray,
            Color::DarkGray,
            Color::LightRed,
            Color::LightGreen,
            Color::LightYellow,
            Color::LightBlue,
            Color::LightMagenta,
            Color::LightCyan,
            Color::White,
        ];
        for (offset, colour) in expected.iter().enumerate() {
            let (foreground, background) = if offset < 8 {
                (30 + offset, 40 + offset)
            } else {
                (90 + offset - 8, 100 + offset - 8)
            };
            let line = parse_styled_line(&format!("\u{1b}[{foreground};{background}mx"), 10);
            let style = to_line(&line, true).spans[0].style;
            assert_eq!(style.fg, Some(*colour), "SGR {foreground}");
            assert_eq!(style.bg, Some(*colour), "SGR {background}");
        }
        let line = parse_styled_line("\u{1b}[38;5;208;48;2;1;2;3mx", 10);
        let style = to_line(&line, true).spans[0].style;
        assert_eq!(style.fg, Some(Color::Indexed(208)));
        assert_eq!(style.bg, Some(Color::Rgb(1, 2, 3)));
    }

    #[test]
    fn attributes_map_to_modifiers() {
        let line = parse_styled_line("\u{1b}[1;2;3;4;7;31mx\u{1b}[0my", 10);
        let rendered = to_line(&line, true);
        assert_eq!(
            rendered.spans[0].style,
            Style::new().fg(Color::Red).add_modifier(
                Modifier::BOLD
                    | Modifier::DIM
                    | Modifier::ITALIC
                    | Modifier::UNDERLINED
                    | Modifier::REVERSED
            )
        );
        // Unstyled text sets nothing, so the surrounding widget's style shows through.
        assert_eq!(rendered.spans[1].style, Style::new());
        assert_eq!(rendered.spans[1].content, "y");
    }

    #[test]
    fn no_color_keeps_only_bold_italic_underline_and_reverse() {
        let line = parse_styled_line("\u{1b}[1;2;3;4;7;31;44mx", 10);
        assert_eq!(
            to_line(&line, false).spans[0].style,
            Style::new().add_modifier(
                Modifier::BOLD | Modifier::ITALIC | Modifier::UNDERLINED | Modifier::REVERSED
            )
        );
        let coloured_only = parse_styled_line("\u{1b}[2;38;2;9;9;9mx", 10);
        assert_eq!(to_line(&coloured_only, false).spans[0].style, Style::new());
    }

    #[test]
    fn a_cut_line_ends_with_the_marker_and_fits() {
        let line = parse_styled_line("\u{1b}[32m日本語のログ\u{1b}[0m", 7);
        let rendered = to_line(&line, true);
        assert_eq!(rendered.to_string(), "日本語…");
        assert_eq!(rendered.width(), 7);
        assert_eq!(
            rendered.spans.last().map(|span| span.style),
            Some(Style::new())
        );
        let whole = to_line(&parse_styled_line("fits", 7), true);
        assert_eq!(whole.to_string(), "fits");
    }

    #[test]
    fn hostile_text_draws_without_escapes() {
        let family = "\u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}";
        let hostile = format!(
            "\u{1b}]0;title\u{7}\u{1b}[2J\u{1b}[31mred\u{1b}[0m\tx\u{9b}2J\rR{family}\
             \u{1b}[?25l日本\u{1b}[31m!\u{1b}"
        );
        let width = 16;
        let line = to_line(&parse_styled_line(&hostile, width), true);
        assert_eq!(line.to_string(), format!("R{family}日本!x\u{fffd}2J"));
        assert_eq!(line.width(), 12);
        let area = Rect::new(0, 0, 20, 1);
        let mut buffer = Buffer::empty(area);
        line.render(area, &mut buffer);
        let drawn: String = buffer
            .content
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert!(!drawn.chars().any(char::is_control), "{drawn:?}");
        // The red text was overwritten; only the `!` after it is red.
        assert_eq!(buffer[(0, 0)].fg, Color::Reset);
        assert_eq!(
            (buffer[(7, 0)].symbol(), buffer[(7, 0)].fg),
            ("!", Color::Red)
        );
    }
}
