//! Drawing. Reads the app state and nothing else: no I/O, no waiting.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::keymap::Keymap;
use super::styled;
use super::theme::{self, Theme};
use crate::app::deploy::{DeployView, Dialog};
use crate::app::{App, Cursor, Loadable, LogsFocus, PaneId};
use crate::model::Digest;
use crate::pipeline::plan::StepStatus;
use crate::pipeline::run::DeployAction;
use crate::text::{keep_end, parse_styled_line, parse_styled_window, sanitize_line};
use std::time::Instant;

/// The smallest terminal the layout works in.
const MIN_WIDTH: u16 = 60;
const MIN_HEIGHT: u16 = 16;

/// Columns of a human-readable size such as `1023 KiB`.
const SIZE_WIDTH: u16 = 8;

/// Per-pane scroll positions that ratatui keeps between frames, and the invoke editor.
#[derive(Debug, Default)]
pub struct ViewState {
    /// The payload editor; it keeps its text while the invoke view is closed.
    pub editor: Option<ratatui_textarea::TextArea<'static>>,
    /// The open prompt's line editor.
    pub prompt: Option<ratatui_textarea::TextArea<'static>>,
    images: TableState,
    objects: TableState,
    streams: TableState,
    events: TableState,
}

impl ViewState {
    /// The payload editor as it first opens: an empty JSON object, the default event.
    pub fn new_editor() -> ratatui_textarea::TextArea<'static> {
        ratatui_textarea::TextArea::from(["{}"])
    }
}

/// Draws the whole console.
pub fn draw(frame: &mut Frame, app: &App, keymap: &Keymap, theme: Theme, view: &mut ViewState) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let message = format!(
            "terminal too small: {}×{}, need {MIN_WIDTH}×{MIN_HEIGHT}",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(message).wrap(Wrap { trim: true }), area);
        return;
    }
    // A long error (code, message, request id) wraps onto up to three lines rather than
    // losing its end.
    let status_line = status_line(app, theme);
    let status_height = status_line
        .width()
        .div_ceil(usize::from(area.width))
        .clamp(1, 3);
    // The header wraps in a narrow terminal rather than losing the recorded digest's verdict.
    let header_text = Paragraph::new(header_lines(app, theme)).wrap(Wrap { trim: false });
    let header_rows = header_text.line_count(area.width.saturating_sub(2));
    let header_height = u16::try_from(header_rows)
        .unwrap_or(u16::MAX)
        .saturating_add(2);
    let [header, body, status, hints] = Layout::vertical([
        Constraint::Length(header_height.min(8)),
        Constraint::Min(0),
        Constraint::Length(u16::try_from(status_height).unwrap_or(1)),
        Constraint::Length(1),
    ])
    .areas(area);
    let [top, logs] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(body);
    let [images, objects] =
        Layout::horizontal([Constraint::Percentage(53), Constraint::Percentage(47)]).areas(top);
    let [streams, events] =
        Layout::horizontal([Constraint::Percentage(38), Constraint::Percentage(62)]).areas(logs);

    let header_block = Block::bordered()
        .title(Span::styled(
            format!(" {} ", theme::APP_NAME),
            theme.title(),
        ))
        .border_style(theme.dim());
    frame.render_widget(header_text.block(header_block), header);
    draw_images(frame, images, app, theme, &mut view.images);
    draw_objects(frame, objects, app, theme, &mut view.objects);
    if let Some(deploy) = &app.deploy {
        draw_deploy(frame, logs, deploy, app, theme);
    } else if let Some(invoke) = &app.invoke {
        draw_invoke(frame, logs, invoke, app, theme, view);
    } else if let Some(preview) = app.shown_preview() {
        draw_preview(frame, logs, preview, app, theme);
    } else {
        draw_streams(frame, streams, app, theme, &mut view.streams);
        if app.logs_view == crate::app::LogsView::Live {
            draw_live(frame, events, app, theme);
        } else {
            draw_events(frame, events, app, theme, &mut view.events);
        }
    }
    if let Some(prompt) = app.prompt {
        let label = match prompt {
            crate::app::Prompt::Search => "search: ",
            crate::app::Prompt::Filter => "filter pattern (empty for none): ",
        };
        let [label_area, input_area] = Layout::horizontal([
            Constraint::Length(u16::try_from(label.len()).unwrap_or(8)),
            Constraint::Min(1),
        ])
        .areas(status);
        frame.render_widget(Paragraph::new(label).style(theme.warning()), label_area);
        let editor = view
            .prompt
            .get_or_insert_with(|| prompt_editor(app, prompt));
        frame.render_widget(&*editor, input_area);
    } else {
        frame.render_widget(
            Paragraph::new(status_line).wrap(Wrap { trim: false }),
            status,
        );
    }
    frame.render_widget(
        Paragraph::new(key_hints(app, keymap)).style(theme.dim()),
        hints,
    );
    if let Some(question) = question(app) {
        draw_question(frame, area, &question, theme);
    }
    if app.show_help {
        draw_help(frame, area, keymap, theme);
    }
}

/// The footer: the keys of the focused pane, as the keymap binds them.
fn key_hints(app: &App, keymap: &Keymap) -> String {
    use crate::app::Action;

    if app.invoke.is_some() && app.deploy.is_none() {
        // The payload editor takes every other key, so only its own keys are worth naming.
        return "Ctrl-S send  Ctrl-E send async  Ctrl-P saved  Ctrl-R earlier  Ctrl-L its logs  Ctrl-U undo  Esc close"
            .to_owned();
    }

    let key = |action: Action| keymap.key_for(&action).unwrap_or_else(|| "-".to_owned());
    if app.shown_preview().is_some() {
        return [
            format!("{}/{} move", key(Action::Down), key(Action::Up)),
            format!("{}/{} page", key(Action::PageDown), key(Action::PageUp)),
            format!("{}/{} first/last", key(Action::Top), key(Action::Bottom)),
            format!(
                "{}/{} sideways",
                key(Action::ScrollLeft),
                key(Action::ScrollRight)
            ),
            format!("{} close the preview", key(Action::Back)),
            format!("{} quit", key(Action::Quit)),
        ]
        .join("  ");
    }
    let mut hints = vec![
        format!("{}/{} move", key(Action::Down), key(Action::Up)),
        format!("{}/{} page", key(Action::PageDown), key(Action::PageUp)),
    ];
    match app.focus {
        PaneId::Logs => {
            hints.push(format!("{} events", key(Action::Enter)));
            hints.push(format!("{} streams", key(Action::Back)));
        }
        PaneId::Images => hints.push(format!("{} roll back", key(Action::Enter))),
        PaneId::Objects => hints.push(format!("{} preview", key(Action::Enter))),
    }
    hints.push(format!("{} deploy", key(Action::Deploy)));
    hints.push(format!("{} invoke", key(Action::OpenInvoke)));
    hints.extend([
        format!("{} next pane", key(Action::FocusNext)),
        format!("{} refresh", key(Action::Refresh)),
        format!("{} help", key(Action::ToggleHelp)),
        format!("{} quit", key(Action::Quit)),
    ]);
    hints.join("  ")
}

fn spinner(app: &App) -> &'static str {
    theme::SPINNER[app.spinner_frame % theme::SPINNER.len()]
}

/// A time in the short form narrow columns take; panes show recent history, so no year.
fn time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || theme::UNKNOWN.to_owned(),
        |at| at.format("%m-%d %H:%M").to_string(),
    )
}

fn size(bytes: Option<i64>) -> String {
    // Whole units keep the column narrow: `1023 MiB` is the widest.
    let format = humansize::FormatSizeOptions::from(humansize::BINARY).decimal_places(0);
    bytes
        .and_then(|bytes| u64::try_from(bytes).ok())
        .map_or_else(
            || theme::UNKNOWN.to_owned(),
            |bytes| humansize::format_size(bytes, format),
        )
}

/// The header's two lines: where the function is and how it stands, then its digests.
fn header_lines(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let function = app.function.data.as_ref();
    let label = |text: &'static str| Span::styled(text, theme.header_label());
    let value = |text: String| Span::styled(text, theme.value());
    let state = function.map_or_else(|| theme::UNKNOWN.to_owned(), |f| f.state.clone());
    let update = function.map_or_else(
        || theme::UNKNOWN.to_owned(),
        |f| f.last_update_status.clone(),
    );
    let state_style = if state == "Active" {
        theme.good()
    } else {
        theme.warning()
    };
    let mut first = vec![
        label("function "),
        value(sanitize_line(&app.settings.function)),
        label("   region "),
        value(
            app.region
                .clone()
                .unwrap_or_else(|| theme::UNKNOWN.to_owned()),
        ),
    ];
    if let Some(endpoint) = &app.endpoint_url {
        first.extend([label("   endpoint "), value(sanitize_line(endpoint))]);
    }
    first.extend([
        label("   state "),
        Span::styled(state, state_style),
        label("   last update "),
        value(update),
    ]);

    let deployed = app.deployed_digest();
    let recorded = app.recorded_digest();
    let mut second = vec![
        label("deployed "),
        value(
            deployed
                .as_ref()
                .map_or_else(|| theme::UNKNOWN.to_owned(), ToString::to_string),
        ),
        label("   recorded "),
    ];
    second.push(match (recorded, &deployed) {
        (Some(recorded), Some(deployed)) if recorded == deployed => {
            Span::styled("same as deployed", theme.good())
        }
        (Some(recorded), _) => {
            Span::styled(format!("DIFFERS: {}", recorded.short()), theme.warning())
        }
        (None, _) if app.recorded.loading => Span::raw(theme::LOADING),
        (None, _) if app.recorded.data.is_some() => {
            Span::styled("nothing recorded", theme.warning())
        }
        (None, _) => Span::raw(theme::UNKNOWN),
    });
    if app.function.loading {
        second.push(Span::raw(format!("   {} {}", spinner(app), theme::LOADING)));
    }
    vec![Line::from(first), Line::from(second)]
}

fn pane_block(title: &str, focused: bool, theme: Theme) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            ratatui::widgets::BorderType::Thick
        } else {
            ratatui::widgets::BorderType::Plain
        })
        .border_style(theme.border(focused))
        .title(Span::styled(format!(" {title} "), theme.title()))
}

/// A new prompt's line editor, holding the current search or pattern selected: typing replaces
/// it, an arrow key keeps it to edit.
fn prompt_editor(app: &App, prompt: crate::app::Prompt) -> ratatui_textarea::TextArea<'static> {
    let current = match prompt {
        crate::app::Prompt::Search => app.live.search.clone(),
        crate::app::Prompt::Filter => app.live.filter.clone(),
    };
    let mut editor = ratatui_textarea::TextArea::from([current.unwrap_or_default()]);
    if !editor.is_empty() {
        editor.select_all();
    }
    editor
}

/// Draws a table, or in its place what is known about the load: spinner, error or emptiness.
#[allow(
    clippy::too_many_arguments,
    reason = "one drawing routine for every table pane"
)]
fn draw_table<T>(
    frame: &mut Frame,
    area: Rect,
    block: Block<'static>,
    load: &Loadable<Vec<T>>,
    app: &App,
    theme: Theme,
    table: (Row<'static>, Vec<Constraint>, Vec<Row<'static>>),
    cursor: Cursor,
    state: &mut TableState,
) {
    let (header, widths, rows) = table;
    let placeholder = match (&load.data, &load.error) {
        (None, Some(error)) => Some(Line::styled(
            sanitize_line(&error.to_string()),
            theme.error(),
        )),
        (None, None) if load.loading => {
            Some(Line::raw(format!("{} {}", spinner(app), theme::LOADING)))
        }
        (None, None) if app.function.error.is_some() => Some(Line::styled(
            "not loaded: the function could not be read",
            theme.dim(),
        )),
        (None, None) => Some(Line::styled("waiting for the function", theme.dim())),
        (Some(items), _) if items.is_empty() => Some(Line::styled("none", theme.dim())),
        _ => None,
    };
    if let Some(line) = placeholder {
        frame.render_widget(
            Paragraph::new(line).wrap(Wrap { trim: true }).block(block),
            area,
        );
        return;
    }
    state.select(Some(cursor.selected));
    let table = Table::new(rows, widths)
        .header(header.style(theme.column_header()))
        .block(block)
        .row_highlight_style(theme.selected())
        .highlight_symbol(theme::SELECTED_SYMBOL);
    frame.render_stateful_widget(table, area, state);
}

fn header_row(names: &[&'static str]) -> Row<'static> {
    Row::new(names.iter().map(|name| Cell::from(*name)))
}

fn title_with_count(pane: PaneId, detail: &str, count: Option<usize>, app: &App) -> String {
    let mut title = format!("{}  {detail}", theme::pane_title(pane));
    if let Some(count) = count {
        title = format!("{title}  ({count})");
    }
    if pane == app.focus {
        title.insert_str(0, "▶ ");
    }
    title
}

fn draw_images(frame: &mut Frame, area: Rect, app: &App, theme: Theme, state: &mut TableState) {
    let repository = app
        .targets
        .as_ref()
        .and_then(|t| t.repository.clone())
        .unwrap_or_default();
    let images = app.images.data.as_deref().unwrap_or_default();
    let title = title_with_count(
        PaneId::Images,
        &sanitize_line(&repository),
        app.images.data.as_ref().map(Vec::len),
        app,
    );
    let deployed = app.deployed_digest();
    let recorded = app.recorded_digest();
    // In a narrow pane the digest, tags and marks matter most; time and size give way.
    let wide = area.width >= 63;
    let rows = images
        .iter()
        .map(|image| {
            let marks: Vec<&str> = [
                (deployed.as_ref() == Some(&image.digest)).then_some(theme::DEPLOYED_MARK),
                (recorded == Some(&image.digest)).then_some(theme::RECORDED_MARK),
            ]
            .into_iter()
            .flatten()
            .collect();
            let mark_style = if marks.is_empty() {
                theme.dim()
            } else {
                theme.good()
            };
            let mut cells = vec![
                Cell::from(image.digest.short().to_owned()),
                Cell::from(sanitize_line(&image.tags.join(","))),
                Cell::from(time(image.pushed_at)),
                Cell::from(size(image.size_bytes)),
                Cell::from(Span::styled(marks.join(", "), mark_style)),
            ];
            if !wide {
                cells.drain(2..4);
            }
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(12),
        Constraint::Min(6),
        Constraint::Length(11),
        Constraint::Length(SIZE_WIDTH),
        Constraint::Length(18),
    ];
    let mut names = vec!["SHA256", "TAGS", "PUSHED", "SIZE", "STATE"];
    if !wide {
        widths.drain(2..4);
        names.drain(2..4);
    }
    let header = header_row(&names);
    let block = pane_block(&title, app.focus == PaneId::Images, theme);
    draw_table(
        frame,
        area,
        block,
        &app.images,
        app,
        theme,
        (header, widths, rows),
        app.images_cursor,
        state,
    );
}

fn draw_objects(frame: &mut Frame, area: Rect, app: &App, theme: Theme, state: &mut TableState) {
    let bucket = app
        .targets
        .as_ref()
        .and_then(|t| t.bucket.clone())
        .unwrap_or_default();
    let objects = app.objects.data.as_deref().unwrap_or_default();
    let detail = if bucket.is_empty() {
        String::new()
    } else {
        format!("s3://{}", sanitize_line(&bucket))
    };
    let title = title_with_count(
        PaneId::Objects,
        &detail,
        app.objects.data.as_ref().map(Vec::len),
        app,
    );
    // Keys share their start (`data-2026-…`) and differ at the end, so a cut keeps the end.
    let key_width = usize::from(area.width.saturating_sub(2 + 2 + 1 + SIZE_WIDTH));
    let rows = objects
        .iter()
        .map(|object| {
            Row::new(vec![
                Cell::from(keep_end(&sanitize_line(&object.key), key_width)),
                Cell::from(size(Some(object.size_bytes))),
            ])
        })
        .collect();
    let widths = vec![Constraint::Min(20), Constraint::Length(SIZE_WIDTH)];
    let header = header_row(&["KEY", "SIZE"]);
    // An open preview takes the keys, so it has the focused border instead.
    let focused = app.focus == PaneId::Objects && app.shown_preview().is_none();
    let block = pane_block(&title, focused, theme);
    draw_table(
        frame,
        area,
        block,
        &app.objects,
        app,
        theme,
        (header, widths, rows),
        app.objects_cursor,
        state,
    );
}

fn draw_streams(frame: &mut Frame, area: Rect, app: &App, theme: Theme, state: &mut TableState) {
    let log_group = app
        .targets
        .as_ref()
        .map(|t| t.log_group.clone())
        .unwrap_or_default();
    let streams = app.streams.data.as_deref().unwrap_or_default();
    let title = title_with_count(
        PaneId::Logs,
        &sanitize_line(&log_group),
        app.streams.data.as_ref().map(Vec::len),
        app,
    );
    let rows = streams
        .iter()
        .map(|stream| {
            Row::new(vec![
                Cell::from(time(stream.last_event)),
                Cell::from(sanitize_line(&stream.name)),
            ])
        })
        .collect();
    let widths = vec![Constraint::Length(11), Constraint::Min(10)];
    let header = header_row(&["LAST EVENT", "STREAM"]);
    let focused = app.focus == PaneId::Logs && app.logs_focus == LogsFocus::Streams;
    let block = pane_block(&title, focused, theme);
    draw_table(
        frame,
        area,
        block,
        &app.streams,
        app,
        theme,
        (header, widths, rows),
        app.streams_cursor,
        state,
    );
}

fn draw_events(frame: &mut Frame, area: Rect, app: &App, theme: Theme, state: &mut TableState) {
    let events = app.events.data.as_deref().unwrap_or_default();
    let stream = app
        .events_stream
        .as_deref()
        .map(sanitize_line)
        .unwrap_or_default();
    let mut title = format!("events  {stream}");
    if app.events.data.is_some() && app.events.loading {
        title = format!("{title}  {}", spinner(app));
    }
    // The message column: what the borders, the time, the gap and the selection mark leave.
    let columns = usize::from(area.width)
        .saturating_sub(2 + 14 + 1 + theme::SELECTED_SYMBOL.len())
        .max(10);
    let rows = events
        .iter()
        .map(|event| {
            Row::new(vec![
                Cell::from(Span::styled(
                    event.timestamp.format("%m-%d %H:%M:%S").to_string(),
                    theme.dim(),
                )),
                Cell::from(output_line(&event.message, 0, columns, theme)),
            ])
        })
        .collect();
    let widths = vec![Constraint::Length(14), Constraint::Min(10)];
    let header = header_row(&["TIME", "MESSAGE"]);
    let focused = app.focus == PaneId::Logs && app.logs_focus == LogsFocus::Events;
    let block = pane_block(&title, focused, theme);
    draw_table(
        frame,
        area,
        block,
        &app.events,
        app,
        theme,
        (header, widths, rows),
        app.events_cursor,
        state,
    );
}

/// The merged live tail. Only the rows that fit are built, so a buffer of a hundred thousand
/// events draws as fast as a screenful.
fn draw_live(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let live = &app.live;
    let mode = if live.following { "following" } else { "held" };
    let window = match app.tail_minutes {
        minutes if minutes % 60 == 0 => format!("{} h", minutes / 60),
        minutes => format!("{minutes} min"),
    };
    let count = match live.len() {
        1 => "1 event".to_owned(),
        n => format!("{n} events"),
    };
    // What narrows the view is said, so an empty or short tail is not taken for a quiet one.
    let narrowed: String = [("filter", &live.filter), ("search", &live.search)]
        .into_iter()
        .filter_map(|(what, value)| {
            let shown = parse_styled_line(&sanitize_line(value.as_deref()?), 24).text();
            Some(format!(" · {what} \"{shown}\""))
        })
        .collect();
    // The title fits the border, cut with a marker, so what is cut is seen to be.
    let title = parse_styled_line(
        &format!("live · last {window} · {mode} · {count}{narrowed}"),
        usize::from(area.width.saturating_sub(4)),
    )
    .text();
    let focused = app.focus == PaneId::Logs && app.logs_focus == LogsFocus::Events;
    let mut block = pane_block(&title, focused, theme);
    // The follower's state goes on the bottom border, whose whole width it may need; what does
    // not fit is cut with a marker.
    if let Some(waiting) = &live.waiting {
        let width = usize::from(area.width.saturating_sub(4));
        let mut note = styled::to_line(&parse_styled_line(&sanitize_line(waiting), width), false);
        note.spans.insert(0, Span::raw(" "));
        note.spans.push(Span::raw(" "));
        block = block.title_bottom(note.style(theme.warning()));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if live.is_empty() {
        // Without the function there is no log group to tail.
        let text = if app.targets.is_none() && app.function.data.is_none() && !app.function.loading
        {
            "no log group to tail: the function could not be read".to_owned()
        } else {
            format!("waiting for events (the last {window} and what comes)")
        };
        let waiting = Line::styled(text, theme.dim());
        frame.render_widget(Paragraph::new(waiting), inner);
        return;
    }
    let height = usize::from(inner.height).max(1);
    let selected = app.live_cursor.selected.min(live.len() - 1);
    let first = (selected + 1).saturating_sub(height);
    let needle = live.search.as_deref().map(str::to_ascii_lowercase);
    let width = usize::from(inner.width);
    // Times carry the date once the tail spans more than one day.
    let events = live.buffer.events();
    let one_day = events.front().map(|first| first.timestamp.date_naive())
        == events.back().map(|last| last.timestamp.date_naive());
    let time_format = if one_day {
        "%H:%M:%S%.3f "
    } else {
        "%m-%d %H:%M:%S%.3f "
    };
    let lines: Vec<Line> = live
        .buffer
        .events()
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(index, event)| {
            let mut spans = vec![
                Span::styled(event.timestamp.format(time_format).to_string(), theme.dim()),
                Span::styled(
                    format!("{} ", stream_tag(&sanitize_line(&event.stream))),
                    theme.dim(),
                ),
            ];
            let columns = width
                .saturating_sub(Line::from(spans.clone()).width())
                .max(1);
            // Wrapped, an event takes at most the pane's rows: what lies beyond never shows.
            let message = if live.wrap {
                output_line(&event.message, 0, width.max(1) * height, theme)
            } else {
                output_line(&event.message, live.scroll, columns, theme)
            };
            spans.extend(highlight(message.spans, needle.as_deref(), theme));
            let row = Line::from(spans);
            if index == selected && !live.following {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let mut paragraph = Paragraph::new(lines);
    if live.wrap {
        paragraph = paragraph.wrap(Wrap { trim: false });
        // Wrapped lines take more rows: scroll so the selected (newest) event stays in view.
        let rows = paragraph.line_count(inner.width);
        paragraph = paragraph.scroll((u16::try_from(rows.saturating_sub(height)).unwrap_or(0), 0));
    }
    frame.render_widget(paragraph, inner);
}

/// A stream's name in the live view's narrow column: a Lambda stream by the start of its
/// execution environment's id (after `]`), as the streams list shows it; another by its start,
/// cut with a marker.
fn stream_tag(name: &str) -> String {
    const WIDTH: usize = 8;
    let tag = match name.rsplit_once(']') {
        Some((_, id)) if !id.is_empty() => id.chars().take(WIDTH).collect(),
        _ => parse_styled_line(name, WIDTH).text(),
    };
    let pad = WIDTH.saturating_sub(crate::text::display_width(&tag));
    format!("{tag}{}", " ".repeat(pad))
}

/// One line of outside output (a log line, a line of a build) as a row of `columns` columns
/// shows it after scrolling `skip` columns sideways: its ANSI styles kept (colours only when the
/// theme has them), carriage returns and erases played as a terminal would, every other control
/// character shown visibly.
fn output_line(text: &str, skip: usize, columns: usize, theme: Theme) -> Line<'static> {
    styled::to_line(&parse_styled_window(text, skip, columns), theme.colours())
}

/// Splits the spans of a message so each match of the search stands out (reversed, so it shows
/// without colour too) over the message's own style, whose colours it keeps. Matching ignores ASCII case, which keeps
/// byte offsets valid, and sees the text as shown, so a match split by an escape sequence is
/// found and one hidden by a carriage return is not.
fn highlight(spans: Vec<Span<'static>>, needle: Option<&str>, theme: Theme) -> Vec<Span<'static>> {
    let Some(needle) = needle.filter(|needle| !needle.is_empty()) else {
        return spans;
    };
    let shown: String = spans.iter().map(|span| span.content.as_ref()).collect();
    let matches: Vec<(usize, usize)> = shown
        .to_ascii_lowercase()
        .match_indices(needle)
        .map(|(start, found)| (start, start + found.len()))
        .collect();
    if matches.is_empty() {
        return spans;
    }
    let mark = theme
        .warning()
        .add_modifier(ratatui::style::Modifier::REVERSED);
    let mut pieces = Vec::new();
    let mut offset = 0;
    for span in spans {
        let end = offset + span.content.len();
        // Where this span changes between matched and unmatched text.
        let mut cuts: Vec<usize> = matches
            .iter()
            .flat_map(|&(start, stop)| [start, stop])
            .filter(|&at| at > offset && at < end)
            .collect();
        cuts.insert(0, offset);
        cuts.push(end);
        for pair in cuts.windows(2) {
            let (from, to) = (pair[0], pair[1]);
            let inside = matches
                .iter()
                .any(|&(start, stop)| start <= from && to <= stop);
            // Text with a colour of its own keeps it, reversed; other text takes the theme's.
            let style = match (inside, span.style.fg) {
                (false, _) => span.style,
                (true, None) => span.style.patch(mark),
                (true, Some(_)) => span.style.add_modifier(ratatui::style::Modifier::REVERSED),
            };
            pieces.push(Span::styled(
                span.content[from - offset..to - offset].to_owned(),
                style,
            ));
        }
        offset = end;
    }
    pieces
}

/// The status: the first error, else what is loading, else ready.
fn status_line(app: &App, theme: Theme) -> Line<'static> {
    let errors = [
        app.function.error.as_ref(),
        app.images.error.as_ref(),
        app.recorded.error.as_ref(),
        app.objects.error.as_ref(),
        app.streams.error.as_ref(),
        app.events.error.as_ref(),
    ];
    let awaiting = app
        .deploy
        .as_ref()
        .is_some_and(|deploy| deploy.awaiting.is_some());
    if let Some(notice) = &app.notice {
        Line::styled(sanitize_line(notice), theme.warning())
    } else if awaiting {
        Line::styled(
            "the deploy waits for your answer: y updates the function, n keeps it",
            theme.warning(),
        )
    } else if let Some(error) = errors.into_iter().flatten().next() {
        Line::styled(
            format!("error: {}", sanitize_line(&error.to_string())),
            theme.error(),
        )
    } else if app.is_loading() {
        Line::raw(format!("{} {}", spinner(app), theme::LOADING))
    } else {
        Line::styled("ready · times in UTC", theme.dim())
    }
}

fn step_mark(status: StepStatus, app: &App) -> &'static str {
    match status {
        StepStatus::Pending => "·",
        StepStatus::Running => spinner(app),
        StepStatus::Done => "✓",
        StepStatus::Skipped => "-",
        StepStatus::Failed => "✗",
    }
}

/// The deploy view: one row per step, the push's progress, the build log and the outcome.
fn draw_deploy(frame: &mut Frame, area: Rect, deploy: &DeployView, app: &App, theme: Theme) {
    let now = Instant::now();
    let state = match &deploy.report {
        None => format!("{} running · Esc cancels", spinner(app)),
        Some(_) => "finished · Esc closes".to_owned(),
    };
    let block = pane_block(&format!("deploy · {} · {state}", deploy.title), true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let outcome = deploy.report.as_ref().map(|report| {
        if let Some(error) = &report.error {
            // A decline or a cancel is the user's choice, not a failure.
            return if report.action == DeployAction::Failed {
                Line::styled(format!("failed: {}", sanitize_line(error)), theme.error())
            } else {
                Line::styled(sanitize_line(error), theme.warning())
            };
        }
        let digest = report
            .digest
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        let word = serde_json::to_value(report.action)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        Line::styled(format!("{} {digest}", word.replace('_', " ")), theme.good())
    });
    let [steps_area, gauge_area, log_area, outcome_area] = Layout::vertical([
        Constraint::Length(u16::try_from(deploy.steps.len()).unwrap_or(6)),
        Constraint::Length(u16::from(deploy.progress.is_some())),
        Constraint::Min(0),
        Constraint::Length(u16::from(outcome.is_some()) * 2),
    ])
    .areas(inner);

    let rows: Vec<Row> = deploy
        .steps
        .iter()
        .map(|row| {
            let style = match row.status {
                StepStatus::Failed => theme.error(),
                StepStatus::Done => theme.good(),
                StepStatus::Pending | StepStatus::Skipped => theme.dim(),
                StepStatus::Running => theme.value(),
            };
            let elapsed = row
                .elapsed(now)
                .map_or_else(String::new, |took| format!("{:.1}s", took.as_secs_f64()));
            Row::new(vec![
                Cell::from(Span::styled(
                    format!("{} {}", step_mark(row.status, app), row.status.label()),
                    style,
                )),
                Cell::from(row.step.name()),
                Cell::from(elapsed),
                Cell::from(sanitize_line(&row.detail)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(10),
        Constraint::Length(12),
        Constraint::Length(7),
        Constraint::Min(10),
    ];
    frame.render_widget(Table::new(rows, widths), steps_area);

    if let Some((label, current, total)) = &deploy.progress {
        #[allow(clippy::cast_precision_loss, reason = "a ratio for a progress bar")]
        let ratio = if *total == 0 {
            0.0
        } else {
            (*current as f64 / *total as f64).clamp(0.0, 1.0)
        };
        let gauge = ratatui::widgets::Gauge::default()
            .ratio(ratio)
            .label(format!("push {} {current}/{total}", sanitize_line(label)))
            .gauge_style(theme.good());
        frame.render_widget(gauge, gauge_area);
    }

    let visible = usize::from(log_area.height);
    let lines: Vec<Line> = deploy
        .log
        .iter()
        .skip(deploy.log.len().saturating_sub(visible))
        .map(|line| output_line(line, 0, usize::from(log_area.width), theme).style(theme.dim()))
        .collect();
    frame.render_widget(Paragraph::new(lines), log_area);
    if let Some(outcome) = outcome {
        frame.render_widget(
            Paragraph::new(outcome).wrap(Wrap { trim: true }),
            outcome_area,
        );
    }
}

/// The preview of an object, where the logs are: its lines as a terminal would show them (JSON
/// pretty-printed), numbered, with the highlighted line kept in sight. Only the rows that fit
/// are drawn.
fn draw_preview(
    frame: &mut Frame,
    area: Rect,
    preview: &crate::app::preview::ObjectPreview,
    app: &App,
    theme: Theme,
) {
    let mut title = format!("object  {}", sanitize_line(&preview.key));
    if preview.json {
        title.push_str("  · JSON");
    }
    if let Some(total) = preview.partial_of {
        let read = i64::try_from(crate::app::preview::PREVIEW_BYTES).ok();
        let total = i64::try_from(total).ok();
        title = format!("{title}  · the first {} of {}", size(read), size(total));
    }
    let block = pane_block(&title, true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let placeholder = match &preview.error {
        Some(error) => Some(Line::styled(
            sanitize_line(&error.to_string()),
            theme.error(),
        )),
        None if preview.loading => Some(Line::raw(format!("{} {}", spinner(app), theme::LOADING))),
        None if preview.lines.is_empty() => Some(Line::styled("the object is empty", theme.dim())),
        None => None,
    };
    if let Some(line) = placeholder {
        frame.render_widget(Paragraph::new(line).wrap(Wrap { trim: true }), inner);
        return;
    }
    let height = usize::from(inner.height).max(1);
    let selected = preview.cursor.selected.min(preview.lines.len() - 1);
    let first = (selected + 1).saturating_sub(height);
    let gutter = preview.lines.len().to_string().len();
    let columns = usize::from(inner.width).saturating_sub(gutter + 1).max(1);
    let lines: Vec<Line> = preview
        .lines
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(index, text)| {
            let mut spans = vec![Span::styled(
                format!("{:>gutter$} ", index + 1),
                theme.dim(),
            )];
            spans.extend(output_line(text, preview.scroll, columns, theme).spans);
            let row = Line::from(spans);
            if index == selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The invoke view: the payload editor beside the last answer.
fn draw_invoke(
    frame: &mut Frame,
    area: Rect,
    invoke: &crate::app::invoke::InvokeView,
    app: &App,
    theme: Theme,
    view: &mut ViewState,
) {
    let [editor_area, result_area] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let editor = view.editor.get_or_insert_with(ViewState::new_editor);
    editor.set_block(pane_block("payload · Esc closes", true, theme));
    frame.render_widget(&*editor, editor_area);

    let mut lines: Vec<Line> = Vec::new();
    if let Some(reason) = &invoke.waking {
        lines.push(Line::styled(
            format!("{} waking: {}", spinner(app), sanitize_line(reason)),
            theme.warning(),
        ));
    } else if invoke.sending {
        lines.push(Line::raw(format!("{} invoking…", spinner(app))));
    }
    match &invoke.result {
        None if !invoke.sending => lines.extend(
            [
                "nothing sent yet",
                "Ctrl-S sends, Ctrl-E sends asynchronously (Event)",
                "Ctrl-P loads a saved payload, Ctrl-R an earlier one",
                "Ctrl-L shows the last invoke's lines in the live tail",
            ]
            .map(|text| Line::styled(text, theme.dim())),
        ),
        None => {}
        Some(Err(reason)) => lines.push(Line::styled(
            format!("not sent: {}", sanitize_line(reason)),
            theme.error(),
        )),
        Some(Ok(report)) => {
            let columns = usize::from(result_area.width.saturating_sub(2));
            lines.extend(report_lines(report, invoke.took, columns, theme));
        }
    }
    let block = pane_block("response", false, theme);
    // A long reason or response line wraps rather than losing its end; log tail lines are
    // already cut to the width, with a marker.
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        result_area,
    );
}

/// The answer: a verdict line, the response pretty-printed, then the decoded log tail, whose
/// lines are cut at `columns`.
fn report_lines(
    report: &crate::app::invoke::InvokeReport,
    took: Option<std::time::Duration>,
    columns: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let took = took.map_or_else(String::new, |took| {
        format!("  round trip {} ms", took.as_millis())
    });
    let version = report.executed_version.as_deref().unwrap_or("-");
    let request = report.request_id.as_deref().unwrap_or("-");
    let head = format!("HTTP {}  version {version}{took}", report.status_code);
    let mut lines = vec![match report.failure() {
        Some(failure) => Line::styled(
            format!(
                "FAILED ({}): {}: {}",
                report.function_error.as_deref().unwrap_or("error"),
                sanitize_line(&failure.error_type),
                sanitize_line(&failure.message)
            ),
            theme.error(),
        ),
        None => Line::styled(format!("OK  {head}"), theme.good()),
    }];
    if report.failed() {
        lines.push(Line::raw(head));
    }
    // On a line of its own, so a long id does not wrap in the middle of the verdict.
    lines.push(Line::raw(format!("request {}", sanitize_line(request))));
    if let Some(execution) = &report.report {
        lines.push(Line::raw(execution.summary()));
    }
    let pretty = serde_json::to_string_pretty(&report.payload).unwrap_or_default();
    lines.extend(pretty.lines().map(|line| Line::raw(sanitize_line(line))));
    if let Some(tail) = &report.log_tail {
        lines.push(Line::styled("log tail", theme.column_header()));
        lines.extend(
            tail.lines()
                .map(|line| output_line(line, 0, columns, theme).style(theme.dim())),
        );
    }
    lines
}

/// What the console asks before it changes the function, if anything.
fn question(app: &App) -> Option<Vec<Line<'static>>> {
    let digest = |digest: Option<&Digest>| {
        digest.map_or_else(|| "nothing readable".to_owned(), ToString::to_string)
    };
    let function = sanitize_line(&app.settings.function);
    if let Some(Dialog::Rollback { to, tags, from }) = &app.dialog {
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", sanitize_line(&tags.join(",")))
        };
        return Some(vec![
            Line::from(format!("Roll back {function}?")),
            Line::from(""),
            Line::from(format!("  running  {}", digest(from.as_ref()))),
            Line::from(format!("  deploy   {to}{tags}")),
            Line::from(""),
            Line::from("  y roll back     n or Esc keep the running image"),
        ]);
    }
    let (from, to) = app.deploy.as_ref()?.awaiting.as_ref()?;
    Some(vec![
        Line::from(format!("Update {function}?")),
        Line::from(""),
        Line::from(format!("  running  {}", digest(from.as_ref()))),
        Line::from(format!("  built    {to}")),
        Line::from(""),
        Line::from("  y update     n or Esc keep the running image (nothing is recorded)"),
    ])
}

fn draw_question(frame: &mut Frame, area: Rect, lines: &[Line<'static>], theme: Theme) {
    let width = 90.min(area.width);
    let height = (u16::try_from(lines.len()).unwrap_or(6) + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let block = Block::bordered()
        .title(Span::styled(" confirm ", theme.title()))
        .border_style(theme.warning());
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines.to_vec())
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}

fn draw_help(frame: &mut Frame, area: Rect, keymap: &Keymap, theme: Theme) {
    let bindings = keymap.keys_by_action();
    let height = u16::try_from(bindings.len())
        .unwrap_or(u16::MAX)
        .saturating_add(4)
        .min(area.height);
    let width = 100.min(area.width);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    let rows: Vec<Row> = bindings
        .iter()
        .map(|(action, keys)| {
            Row::new(vec![
                Cell::from(keys.join(", ")),
                Cell::from(theme::action_description(action)),
            ])
        })
        .collect();
    let table = Table::new(rows, [Constraint::Length(22), Constraint::Min(10)])
        .header(header_row(&["KEYS", "ACTION"]).style(theme.column_header()))
        .block(
            Block::bordered()
                .title(Span::styled(" help: ? or Esc closes ", theme.title()))
                .border_style(theme.border(true)),
        );
    frame.render_widget(Clear, popup);
    frame.render_widget(table, popup);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::app::Action;
    use crate::aws::AwsError;
    use crate::config::Settings;
    use crate::model::{Digest, FunctionInfo, ImageInfo, LogEvent, LogStreamInfo, ObjectInfo};
    use crate::pipeline::plan::Step;
    use crate::pipeline::run::Event;

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 7)
            .unwrap()
    }

    fn digest(fill: &str) -> Digest {
        Digest::from_hex(&fill.repeat(64 / fill.len())).unwrap()
    }

    /// A console with every pane loaded from fixed data, as the sandbox seeds it.
    fn loaded_app() -> App {
        let settings = Settings {
            function: "python-lambda".into(),
            ..Settings::default()
        };
        let mut app = App::new(settings, Some("eu-west-1".into()), None);
        app.start();
        let uri = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/python-lambda-repo";
        app.update(Action::FunctionLoaded(Ok(FunctionInfo {
            name: "python-lambda".into(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            image_uri: Some(format!("{uri}@{}", digest("b2"))),
            resolved_image_uri: Some(format!("{uri}@{}", digest("b2"))),
            bucket_variable: Some("lambda-artifacts-0a1b2c3d".into()),
            architectures: vec!["x86_64".into()],
            ..FunctionInfo::default()
        })));
        let image = |fill: &str, tag: &str, day: u32| ImageInfo {
            digest: digest(fill),
            tags: vec![tag.into()],
            pushed_at: Some(at(day, 9, 30)),
            size_bytes: Some(187_000_000),
            media_type: None,
        };
        app.update(Action::ImagesLoaded(Ok(vec![
            image("a1", "v1", 20),
            image("b2", "v2", 24),
            image("c3", "v3", 28),
        ])));
        app.update(Action::RecordedLoaded(Ok(Some(digest("b2")))));
        let objects = (0..40)
            .map(|n| ObjectInfo {
                key: format!(
                    "data-2026-11-{:02}_{:02}-00-00-000000-{n:08x}.json",
                    20 + n / 8,
                    n % 8
                ),
                size_bytes: 83,
                last_modified: Some(at(20 + n / 8, n % 8, 0)),
                etag: None,
            })
            .collect();
        app.update(Action::ObjectsLoaded(Ok(objects)));
        let streams = (0..4)
            .map(|n| LogStreamInfo {
                name: format!("2026/11/{:02}/[$LATEST]{n:032x}", 25 + n),
                last_event: Some(at(25 + n, 12, 0)),
                stored_bytes: None,
            })
            .collect();
        app.update(Action::StreamsLoaded(Ok(streams)));
        let stream = app.events_stream.clone().unwrap();
        let lines = [
            "START RequestId: 6f1c Version: $LATEST",
            "[INFO]\t2026-11-28T12:00:07.003Z\t6f1c\tfetching https://jsonplaceholder.typicode.com/todos/1",
            "\u{1b}[31m[ERROR]\u{1b}[0m upstream said\r\u{7}no",
            "END RequestId: 6f1c",
            "REPORT RequestId: 6f1c\tDuration: 189.52 ms\tBilled Duration: 190 ms",
        ];
        let events: Vec<LogEvent> = lines
            .iter()
            .map(|message| LogEvent {
                timestamp: at(28, 12, 0),
                stream: stream.clone(),
                message: (*message).into(),
                event_id: None,
            })
            .collect();
        app.update(Action::EventsLoaded {
            stream: stream.clone(),
            result: Ok(events.clone()),
        });
        // The live view shows the same hostile lines, from two streams.
        let live = events
            .into_iter()
            .enumerate()
            .map(|(n, event)| LogEvent {
                stream: if n % 2 == 0 {
                    stream.clone()
                } else {
                    "2026/11/28/[$LATEST]0b5e1c".into()
                },
                event_id: Some(n.to_string()),
                ..event
            })
            .collect();
        app.update(Action::TailEvents(live));
        app
    }

    fn render(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
        let keymap = Keymap::with_overrides(&BTreeMap::new()).unwrap();
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        let mut view = ViewState::default();
        terminal
            .draw(|frame| draw(frame, app, &keymap, Theme::coloured(), &mut view))
            .unwrap();
        terminal
    }

    #[test]
    fn main_screen() {
        insta::assert_snapshot!(render(&loaded_app(), 120, 40).backend());
    }

    #[test]
    fn help_overlay() {
        let mut app = loaded_app();
        app.update(Action::ToggleHelp);
        insta::assert_snapshot!(render(&app, 120, 40).backend());
    }

    #[test]
    fn errors_show_in_the_panes_and_the_status_line() {
        let mut app = App::new(
            Settings {
                function: "python-lambda".into(),
                ..Settings::default()
            },
            None,
            None,
        );
        app.start();
        app.update(Action::FunctionLoaded(Err(AwsError {
            doing: "reading function python-lambda".into(),
            code: Some("AccessDeniedException".into()),
            message: "User is not authorized to perform: lambda:GetFunction".into(),
            request_id: Some("0f1e2d3c".into()),
        })));
        insta::assert_snapshot!(render(&app, 120, 40).backend());
    }

    #[test]
    fn an_ssh_sized_terminal_keeps_digests_and_marks() {
        let mut app = loaded_app();
        app.update(Action::RecordedLoaded(Ok(Some(digest("a1")))));
        let text = format!("{}", render(&app, 80, 24).backend());
        assert!(text.contains("DIFFERS: a1a1a1a1a1a1"), "{text}");
        assert!(text.contains("deployed"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn the_footer_names_the_keys_the_user_bound() {
        let keymap = Keymap::with_overrides(&BTreeMap::from([
            ("x".to_owned(), "Quit".to_owned()),
            ("q".to_owned(), "Refresh".to_owned()),
        ]))
        .unwrap();
        let hints = key_hints(&loaded_app(), &keymap);
        assert!(hints.contains("x quit"), "{hints}");
        assert!(
            hints.contains("q refresh") || hints.contains("r refresh"),
            "{hints}"
        );
        assert!(!hints.contains("q quit"), "{hints}");
    }

    fn deploy_report(error: Option<&str>) -> crate::pipeline::run::DeployReport {
        use crate::pipeline::run::{DeployAction, DeployReport, StepReport};
        let status = |step: Step| match (error, step) {
            (Some(_), Step::Push) => StepStatus::Failed,
            (Some(_), Step::Fingerprint | Step::Build) | (None, _) => StepStatus::Done,
            (Some(_), _) => StepStatus::Pending,
        };
        DeployReport {
            action: if error.is_some() {
                DeployAction::Failed
            } else {
                DeployAction::Deployed
            },
            digest: Some(digest("c3")),
            previous_digest: Some(digest("b2")),
            fingerprint: Some(digest("f0")),
            steps: Step::ALL
                .iter()
                .map(|&step| StepReport {
                    name: step.name(),
                    status: status(step),
                    seconds: 1.25,
                    detail: format!("{} detail", step.name()),
                })
                .collect(),
            error: error.map(str::to_owned),
        }
    }

    fn app_after_deploy(error: Option<&str>) -> App {
        let mut app = loaded_app();
        app.update(Action::Deploy);
        for line in [
            "Step 1/9 : ARG BASE_IMAGE",
            "\u{1b}[32mSuccessfully built\u{1b}[0m f0abc206992c",
        ] {
            app.update(Action::DeployProgress(Event::Log {
                step: Step::Build,
                line: line.into(),
            }));
        }
        app.update(Action::DeployFinished(deploy_report(error)));
        app
    }

    #[test]
    fn a_finished_deploy_shows_every_step_and_the_outcome() {
        let text = format!("{}", render(&app_after_deploy(None), 120, 40).backend());
        assert!(
            text.contains(&format!("deployed {}", digest("c3"))),
            "{text}"
        );
        assert!(text.contains("Successfully built f0abc206992c"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_failed_deploy_says_which_step_failed_and_why() {
        let text = format!(
            "{}",
            render(
                &app_after_deploy(Some("pushing: the registry refused the login")),
                120,
                40
            )
            .backend()
        );
        assert!(text.contains("✗ FAILED   push"), "{text}");
        assert!(
            text.contains("failed: pushing: the registry refused the login"),
            "{text}"
        );
    }

    #[test]
    fn the_update_waits_for_a_yes_that_names_both_digests() {
        let mut app = loaded_app();
        app.update(Action::Deploy);
        app.update(Action::DeployProgress(Event::AwaitingApproval {
            from: Some(digest("b2")),
            to: digest("d4"),
        }));
        let text = format!("{}", render(&app, 120, 40).backend());
        assert!(
            text.contains(&format!("running  {}", digest("b2"))),
            "{text}"
        );
        assert!(
            text.contains(&format!("built    {}", digest("d4"))),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_function_error_is_shown_as_a_failure_with_its_stack() {
        use crate::app::invoke::InvokeReport;
        let mut app = loaded_app();
        app.update(Action::OpenInvoke);
        app.update(Action::SendInvoke {
            payload: "{}".into(),
            asynchronous: false,
        });
        let report = InvokeReport {
            status_code: 200,
            function_error: Some("Unhandled".into()),
            executed_version: Some("$LATEST".into()),
            request_id: Some("6f1c".into()),
            payload: serde_json::json!({
                "errorType": "KeyError",
                "errorMessage": "'S3_BUCKET_NAME'",
                "stackTrace": ["  File \"/var/task/app.py\", line 9, in lambda_handler"]
            }),
            log_tail: Some(
                "START RequestId: 6f1c\n[ERROR] KeyError\u{1b}[0m\nEND RequestId: 6f1c\n\
                 REPORT RequestId: 6f1c\tDuration: 401.5 ms\tBilled Duration: 402 ms\t\
                 Memory Size: 128 MB\tMax Memory Used: 41 MB\t\n"
                    .into(),
            ),
            report: None,
        };
        let report = InvokeReport {
            report: crate::app::invoke::ExecutionReport::from_log_tail(
                report.log_tail.as_deref().unwrap(),
                Some("6f1c"),
            ),
            ..report
        };
        app.update(Action::InvokeFinished(Ok(report)));
        app.invoke.as_mut().unwrap().took = Some(std::time::Duration::from_millis(412));
        let text = format!("{}", render(&app, 120, 40).backend());
        assert!(
            text.contains("FAILED (Unhandled): KeyError: 'S3_BUCKET_NAME'"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'));
        assert!(
            text.contains("ran 401.5 ms (billed 402 ms), 41 of 128 MB"),
            "the function's own time from its REPORT line: {text}"
        );
        insta::assert_snapshot!(text);
    }

    /// The loaded app with `messages` as the live tail's newest events, one stream.
    fn app_tailing(messages: &[&str]) -> App {
        let mut app = loaded_app();
        let events = messages
            .iter()
            .enumerate()
            .map(|(n, message)| LogEvent {
                timestamp: at(28, 13, 0)
                    + chrono::Duration::milliseconds(i64::try_from(n).unwrap()),
                stream: "2026/11/28/[$LATEST]7a7a7a".into(),
                message: (*message).into(),
                event_id: Some(format!("tail-{n}")),
            })
            .collect();
        app.update(Action::TailEvents(events));
        app
    }

    #[test]
    fn a_prompt_opens_on_the_current_pattern_selected() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        let mut app = loaded_app();
        app.live.filter = Some("?ERROR".into());
        let mut replaced = prompt_editor(&app, crate::app::Prompt::Filter);
        assert_eq!(replaced.lines(), ["?ERROR"]);
        replaced.input(key(KeyCode::Char('x')));
        assert_eq!(replaced.lines(), ["x"], "typing replaces it");
        let mut edited = prompt_editor(&app, crate::app::Prompt::Filter);
        edited.input(key(KeyCode::End));
        edited.input(key(KeyCode::Char('x')));
        assert_eq!(edited.lines(), ["?ERRORx"], "a cursor key keeps it");
        assert_eq!(
            prompt_editor(&app, crate::app::Prompt::Search).lines(),
            [""]
        );
    }

    #[test]
    fn the_live_title_says_what_narrows_the_view_and_times_carry_a_date_across_days() {
        let mut app = loaded_app();
        app.live = crate::app::tail::LiveTail::new(100);
        app.update(Action::TailEvents(vec![LogEvent {
            timestamp: at(28, 13, 0),
            stream: "2026/11/28/[$LATEST]7a7a7a".into(),
            message: "only line".into(),
            event_id: Some("tail-0".into()),
        }]));
        app.focus = PaneId::Logs;
        let text = format!("{}", render(&app, 120, 40).backend());
        assert!(text.contains("· 1 event"), "{text}");
        assert!(
            text.contains("13:00:07.000 "),
            "one day: times alone: {text}"
        );

        app.live.filter = Some("?ERROR ?WARN".into());
        app.live.search = Some("timeout\u{1b}[2J".into());
        app.update(Action::TailEvents(vec![LogEvent {
            timestamp: at(29, 1, 0),
            stream: "2026/11/29/[$LATEST]7b7b7b".into(),
            message: "next day".into(),
            event_id: Some("tail-next".into()),
        }]));
        let text = format!("{}", render(&app, 120, 40).backend());
        assert!(
            text.contains(r#"· 2 events · filter "?ERROR ?WARN" · s…"#),
            "cut with a marker where the border ends: {text}"
        );
        // Wide enough, all of it shows; the search's escape sequence is removed, not played.
        let wide = format!("{}", render(&app, 200, 40).backend());
        assert!(
            wide.contains(r#"· 2 events · filter "?ERROR ?WARN" · search "timeout""#),
            "{wide}"
        );
        assert!(text.contains("11-28 13:00:07.000 ") && text.contains("11-29 01:00:07.000 "));
    }

    /// The cells of the screen row that shows `needle`, from the column where it starts.
    fn cells_from(buffer: &ratatui::buffer::Buffer, needle: &str) -> Vec<ratatui::buffer::Cell> {
        let width = usize::from(buffer.area.width);
        for row in buffer.content.chunks(width) {
            let symbols: Vec<&str> = row.iter().map(ratatui::buffer::Cell::symbol).collect();
            let text = symbols.concat();
            if let Some(byte) = text.find(needle) {
                // The cell where the match starts: symbols are counted as the text was made.
                let mut consumed = 0;
                let column = symbols
                    .iter()
                    .position(|symbol| {
                        let here = consumed == byte;
                        consumed += symbol.len();
                        here
                    })
                    .unwrap();
                return row[column..].to_vec();
            }
        }
        panic!("no row shows {needle:?}");
    }

    #[test]
    fn live_tail_lines_keep_their_colours_and_show_a_progress_bar_last_state() {
        let app = app_tailing(&[
            "\u{1b}[32mPASS\u{1b}[0m handler returned",
            "downloading 10%\rdownloading 100%",
            "pip [##  ]\r\u{1b}[Kinstalled",
        ]);
        let terminal = render(&app, 120, 40);
        let buffer = terminal.backend().buffer();
        let pass = cells_from(buffer, "PASS handler");
        assert_eq!(pass[0].fg, ratatui::style::Color::Green);
        assert_eq!(
            pass[4].fg,
            ratatui::style::Color::Reset,
            "the colour ends with ESC[0m"
        );
        let text = format!("{}", terminal.backend());
        assert!(text.contains("downloading 100%"), "{text}");
        assert!(!text.contains("10%"), "no stale characters: {text}");
        assert!(text.contains("installed"), "{text}");
        assert!(!text.contains("pip [##"), "erased by ESC[K: {text}");
        assert!(
            !text.lines().any(|row| row.chars().any(char::is_control)),
            "{text}"
        );

        // Without colours, the line keeps its text and loses its colour.
        let keymap = Keymap::with_overrides(&BTreeMap::new()).unwrap();
        let mut plain = Terminal::new(TestBackend::new(120, 40)).unwrap();
        plain
            .draw(|frame| {
                let theme = Theme::plain();
                draw(frame, &app, &keymap, theme, &mut ViewState::default());
            })
            .unwrap();
        let pass = cells_from(plain.backend().buffer(), "PASS handler");
        assert_eq!(pass[0].fg, ratatui::style::Color::Reset);
    }

    #[test]
    fn a_search_match_stands_out_over_the_lines_own_colours() {
        let mut app = app_tailing(&["status \u{1b}[31mFAIL\u{1b}[0med over", "nothing here"]);
        app.live.search = Some("failed".into());
        let terminal = render(&app, 120, 40);
        let cells = cells_from(terminal.backend().buffer(), "status FAILed over");
        let reversed = |cell: &ratatui::buffer::Cell| {
            cell.modifier.contains(ratatui::style::Modifier::REVERSED)
        };
        let status = &cells[..7];
        let matched = &cells[7..13];
        assert!(!status.iter().any(reversed), "before the match");
        assert!(
            matched.iter().all(reversed),
            "the match, across the escape sequence"
        );
        assert!(!reversed(&cells[13]), "after the match");
        assert_eq!(
            matched[0].fg,
            ratatui::style::Color::Red,
            "FAIL keeps its red"
        );
    }

    #[test]
    fn the_followers_note_takes_the_bottom_border_and_is_cut_with_a_marker() {
        let mut app = app_tailing(&["one line"]);
        app.update(Action::TailNote(
            "live tail unavailable (HTTP 500 without an error code; the endpoint may not offer \
             StartLiveTail); polling, trying it again in 5 min"
                .into(),
        ));
        let text = format!("{}", render(&app, 120, 40).backend());
        let border = text
            .lines()
            .find(|row| row.contains(" live tail unavailable (HTTP 500"))
            .unwrap_or_else(|| panic!("the note is on a border: {text}"));
        assert!(border.contains("└") || border.contains("┘"), "{border}");
        assert!(border.contains('…'), "cut, and says so: {border}");
        let title = text
            .lines()
            .find(|row| row.contains("live · last"))
            .unwrap();
        assert!(
            title.contains("6 events ─") && !title.contains("unavailable"),
            "the title keeps its own: {title}"
        );
    }

    #[test]
    fn a_lambda_stream_is_tagged_by_the_start_of_its_environment_id_as_the_list_shows_it() {
        assert_eq!(
            stream_tag("2026/12/04/[$LATEST]f13ee6ed54a14f0c"),
            "f13ee6ed"
        );
        assert_eq!(stream_tag("2026/12/04/[7]0b5e1c"), "0b5e1c  ");
        assert_eq!(stream_tag("new-stream"), "new-str…");
        assert_eq!(stream_tag("short"), "short   ");
    }

    #[test]
    fn scrolling_sideways_moves_by_columns_and_never_splits_a_character() {
        let mut app = app_tailing(&["ab日本語のログ end"]);
        app.live.scroll = 3;
        let text = format!("{}", render(&app, 120, 40).backend());
        // Columns 0-2 are `ab` and the first half of 日: its second half shows as a space. The
        // stream's tag is padded to its column.
        assert!(text.contains("7a7a7a    本語のログ end"), "{text}");
        assert!(!text.contains('日'), "{text}");
    }

    /// The loaded app previewing `key`, whose start is `bytes` of an object of `total` bytes.
    fn app_previewing(key: &str, bytes: &[u8], total: u64) -> App {
        let mut app = loaded_app();
        app.update(Action::FocusObjects);
        app.preview = Some(crate::app::preview::ObjectPreview::opening(key.into()));
        app.update(Action::ObjectLoaded {
            key: key.into(),
            result: Ok(crate::model::ObjectHead {
                key: key.into(),
                bytes: bytes.to_vec(),
                total_bytes: Some(total),
                content_type: None,
            }),
        });
        app
    }

    #[test]
    fn an_object_preview_shows_hostile_text_safely() {
        let hostile = "tab\there \u{1b}[31mred\u{1b}[0m \u{1b}]0;pwned\u{7}title gone\n\
                       upload 10%\rupload 100%\n\
                       bell\u{7} nul\u{0} esc\u{1b} del\u{7f} bidi\u{202e}txt\n\
                       日本語のログ 👍🏽 👨\u{200d}👩\u{200d}👧 e\u{301}\n\
                       \u{1b}[2J\u{1b}[Hcleared nothing\n";
        let app = app_previewing("data-hostile.txt", hostile.as_bytes(), hostile.len() as u64);
        let terminal = render(&app, 120, 40);
        let text = format!("{}", terminal.backend());
        assert!(text.contains("object  data-hostile.txt"), "{text}");
        assert!(text.contains("tab     here red title gone"), "{text}");
        assert!(
            text.contains("upload 100%") && !text.contains("10%"),
            "{text}"
        );
        // A lone ESC starts a sequence, as on a terminal (`ESC SP d` here), dropped whole.
        assert!(text.contains("bell␇ nul␀ escel␡ bidi\u{fffd}txt"), "{text}");
        assert!(text.contains("cleared nothing"), "{text}");
        assert!(
            !text.lines().any(|row| row.chars().any(char::is_control)),
            "{text}"
        );
        let red = cells_from(terminal.backend().buffer(), "red title");
        assert_eq!(red[0].fg, ratatui::style::Color::Red);
        assert!(text.contains("close the preview"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_large_single_line_json_object_is_pretty_printed_and_a_partial_one_says_so() {
        let items: Vec<String> = (0..6_000)
            .map(|n| format!(r#"{{"id":{n},"title":"item {n} of a long single-line document"}}"#))
            .collect();
        let document = format!(r#"{{"items":[{}]}}"#, items.join(","));
        assert!(document.len() > 300_000);
        let mut app = app_previewing("data-big.json", document.as_bytes(), document.len() as u64);
        app.update(Action::Bottom);
        let text = format!("{}", render(&app, 120, 40).backend());
        assert!(text.contains("object  data-big.json  · JSON"), "{text}");
        assert!(
            text.contains(r#""title": "item 5999 of a long single-line document""#),
            "{text}"
        );
        assert!(text.contains("24004 }"), "the last of 24,004 lines: {text}");

        let start = &document.as_bytes()[..1024 * 1024 / 4];
        let partial = app_previewing("data-big.json", start, 3 * 1024 * 1024);
        let text = format!("{}", render(&partial, 120, 40).backend());
        assert!(text.contains("the first 1 MiB of 3 MiB"), "{text}");
        assert!(
            !text.contains("· JSON"),
            "a document's start is shown as text: {text}"
        );
        assert!(text.contains(r#"1 {"items":[{"id":0,"#), "{text}");
    }

    #[test]
    fn a_tiny_terminal_gets_a_message_instead_of_a_broken_layout() {
        let terminal = render(&loaded_app(), 40, 10);
        let text = format!("{}", terminal.backend());
        assert!(text.contains("terminal too small"), "{text}");
    }
}
