//! The Objects pane's preview in the real console (tmux) against a real sandbox: objects written
//! with the AWS CLI, read back by a ranged GetObject, and drawn without letting their bytes act
//! on the terminal.

mod common;

use std::fmt::Write as _;

use common::tmux::{Tmux, console_command};
use common::{TestSandbox, needs};

fn put(sandbox: &TestSandbox, bucket: &str, key: &str, body: &[u8]) {
    let file = sandbox.folder().join("object-body");
    std::fs::write(&file, body).unwrap();
    let file = file.to_str().unwrap();
    let put = sandbox.run_with_env(
        "aws",
        &[
            "s3api",
            "put-object",
            "--bucket",
            bucket,
            "--key",
            key,
            "--body",
            file,
        ],
    );
    assert!(put.status.success(), "put-object {key}: {put:?}");
}

/// Moves the Objects pane's selection to the row of `key` and opens its preview.
fn open_preview(tmux: &Tmux, key: &str, rows: usize) {
    tmux.keys(&["2", "g"]);
    for _ in 0..rows {
        let screen = tmux.screen();
        if screen
            .lines()
            .any(|line| line.contains("> ") && line.contains(key))
        {
            break;
        }
        tmux.keys(&["j"]);
    }
    tmux.keys(&["Enter"]);
}

#[test]
fn objects_preview_hostile_text_safely_json_pretty_and_large_ones_by_their_start() {
    if !needs("tmux") || !needs("aws") {
        return;
    }
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    let status = sandbox.json(&["status", "--output", "json"]);
    let bucket = status["bucket"].as_str().unwrap().to_owned();
    let seeded = sandbox.json(&["objects", "--output", "json"]);
    let rows = seeded.as_array().unwrap().len() + 4;

    let hostile = "tab\there \u{1b}[31mred\u{1b}[0m \u{1b}]0;pwned\u{7}title kept\n\
                   upload 10%\rupload 100%\n\
                   bell\u{7} done \u{1b}[2Jstill here\n\
                   日本語のログ 👍 end\n";
    put(&sandbox, &bucket, "preview/hostile.txt", hostile.as_bytes());
    let items: Vec<String> = (0..6_000)
        .map(|n| format!(r#"{{"id":{n},"title":"item {n} of a long single-line document"}}"#))
        .collect();
    let document = format!(r#"{{"items":[{}]}}"#, items.join(","));
    assert!(document.len() > 300_000, "a 300 KB single line");
    put(
        &sandbox,
        &bucket,
        "preview/one-line.json",
        document.as_bytes(),
    );
    let mut large = String::new();
    while large.len() < 3 * 1024 * 1024 {
        writeln!(large, "line {:09}", large.len() / 15).unwrap();
    }
    large.truncate(3 * 1024 * 1024);
    put(&sandbox, &bucket, "preview/large.log", large.as_bytes());
    put(&sandbox, &bucket, "preview/empty.txt", b"");

    let tmux = Tmux::start(
        &sandbox,
        "preview",
        &console_command(&sandbox.folder().join("pid")),
    );
    tmux.wait_for(&[&format!("({rows})"), "preview/hostile.txt"]);

    open_preview(&tmux, "preview/hostile.txt", rows);
    let screen = tmux.wait_for(&["object  preview/hostile.txt", "upload 100%"]);
    for shown in [
        "1 tab     here red title kept",
        "2 upload 100%",
        "3 bell␇ done still here",
        "4 日本語のログ 👍 end",
        "close the preview",
    ] {
        assert!(screen.contains(shown), "{shown:?} in:\n{screen}");
    }
    assert!(!screen.contains("10%"), "no stale characters:\n{screen}");
    assert!(
        !screen.contains("pwned"),
        "the title sequence is dropped:\n{screen}"
    );
    // The red comes from the console's own styling, and the object's erase-screen did nothing.
    let styled = tmux.tmux(&["capture-pane", "-e", "-p"]);
    // Palette colour 1, however tmux writes it back.
    assert!(
        ["\u{1b}[31mred", "\u{1b}[38;5;1mred"]
            .iter()
            .any(|red| styled.contains(red)),
        "{styled}"
    );
    assert!(
        tmux.screen().contains("python-lambda-repo"),
        "the panes are intact"
    );

    tmux.keys(&["Escape"]);
    open_preview(&tmux, "preview/one-line.json", rows);
    let screen = tmux.wait_for(&["object  preview/one-line.json  · JSON", r#""id": 0,"#]);
    assert!(screen.contains("3     {"), "pretty-printed:\n{screen}");
    tmux.keys(&["G"]);
    tmux.wait_for(&[
        "24004 }",
        r#""title": "item 5999 of a long single-line document""#,
    ]);

    tmux.keys(&["Escape"]);
    open_preview(&tmux, "preview/large.log", rows);
    tmux.wait_for(&[
        "object  preview/large.log  · the first 1 MiB of 3 MiB",
        "1 line 000000000",
    ]);

    tmux.keys(&["Escape"]);
    open_preview(&tmux, "preview/empty.txt", rows);
    tmux.wait_for(&["object  preview/empty.txt", "the object is empty"]);

    tmux.keys(&["Escape"]);
    let screen = tmux.wait_for(&["live · last"]);
    assert!(!screen.contains("object  preview/"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for(&["exited with 0"]);
}
