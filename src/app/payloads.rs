//! The saved payloads the invoke editor offers with Ctrl-P: the JSON files of the project's
//! payloads folder (`assets/payloads/` unless `lambdactl.toml` names another), read when the
//! invoke view opens, then the examples built into lambdactl that the folder does not replace,
//! so an installed binary run outside the project still offers some.

use std::path::Path;

/// Files larger than this are left out: the editor is for payloads typed and read by hand.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// A payload offered by its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPayload {
    pub name: String,
    pub text: String,
}

/// The examples built in, named as their files in the project's own `assets/payloads/`, so
/// that running in the project shows each once.
fn built_in() -> Vec<SavedPayload> {
    [
        (
            "empty.json",
            include_str!("../../assets/payloads/empty.json"),
        ),
        (
            "scheduled-event.json",
            include_str!("../../assets/payloads/scheduled-event.json"),
        ),
    ]
    .into_iter()
    .map(|(name, text)| SavedPayload {
        name: name.to_owned(),
        text: text.to_owned(),
    })
    .collect()
}

/// The folder's `*.json` files by name, then the built-in examples it has no file of the same
/// name for. A missing folder is no error; a file that cannot be read, is not UTF-8 or is too
/// large is left out with a line in the log file, as one bad file should not hide the others.
pub fn load(folder: &Path) -> Vec<SavedPayload> {
    let mut saved = match std::fs::read_dir(folder) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|entry| read_one(&entry.path()))
            .collect(),
        Err(error) => {
            if error.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(folder = %folder.display(), %error, "cannot list saved payloads");
            }
            Vec::new()
        }
    };
    saved.sort_by(|a: &SavedPayload, b| a.name.cmp(&b.name));
    let examples: Vec<SavedPayload> = built_in()
        .into_iter()
        .filter(|example| saved.iter().all(|file| file.name != example.name))
        .collect();
    saved.extend(examples);
    saved
}

fn read_one(path: &Path) -> Option<SavedPayload> {
    let name = path.file_name()?.to_str()?.to_owned();
    let is_json = path
        .extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
    let metadata = std::fs::metadata(path).ok()?;
    if !is_json || !metadata.is_file() {
        return None;
    }
    if metadata.len() > MAX_BYTES {
        tracing::warn!(path = %path.display(), bytes = metadata.len(), "saved payload too large");
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(text) => Some(SavedPayload { name, text }),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "cannot read saved payload");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(saved: &[SavedPayload]) -> Vec<&str> {
        saved.iter().map(|payload| payload.name.as_str()).collect()
    }

    #[test]
    fn the_folders_json_files_come_first_by_name_then_the_examples_it_does_not_replace() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("order.json"), "{\"order\": 7}").unwrap();
        std::fs::write(folder.path().join("empty.json"), "{\"mine\": true}").unwrap();
        std::fs::write(folder.path().join("notes.txt"), "not a payload").unwrap();
        std::fs::create_dir(folder.path().join("nested.json")).unwrap();
        std::fs::write(folder.path().join("binary.json"), [0xff, 0xfe, 0x00]).unwrap();
        let big = "x".repeat(usize::try_from(MAX_BYTES).unwrap() + 1);
        std::fs::write(folder.path().join("huge.json"), big).unwrap();

        let saved = load(folder.path());
        assert_eq!(
            names(&saved),
            ["empty.json", "order.json", "scheduled-event.json"]
        );
        assert_eq!(saved[0].text, "{\"mine\": true}", "the folder's file wins");
    }

    #[test]
    fn without_the_folder_the_examples_are_offered() {
        let folder = tempfile::tempdir().unwrap();
        let saved = load(&folder.path().join("absent"));
        assert_eq!(names(&saved), ["empty.json", "scheduled-event.json"]);
        assert!(
            saved
                .iter()
                .all(|payload| payload.text.trim_start().starts_with('{'))
        );
    }
}
