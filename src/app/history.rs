//! The payloads sent to each function, newest first, kept in the user's state folder so the
//! invoke editor can offer them again after a restart.

use std::path::{Path, PathBuf};

/// How many payloads are kept per function.
pub const KEPT: usize = 50;

/// The history folder: `$LAMBDACTL_STATE_DIR/history`, else the user's state folder.
pub fn folder() -> Option<PathBuf> {
    let base = if let Some(dir) = std::env::var_os("LAMBDACTL_STATE_DIR") {
        PathBuf::from(dir)
    } else {
        let dirs = directories::ProjectDirs::from("", "", "lambdactl")?;
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_owned()
    };
    Some(base.join("history"))
}

fn file(folder: &Path, function: &str) -> PathBuf {
    // A function name is letters, digits, `-` and `_`; anything else is replaced, so a name can
    // never point outside the folder.
    let safe: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    folder.join(format!("{safe}.json"))
}

/// The payloads sent to `function`, newest first; none when there is no history yet.
pub fn load(folder: &Path, function: &str) -> Vec<String> {
    std::fs::read_to_string(file(folder, function))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Puts a payload first in the history, without duplicates, keeping the newest [`KEPT`].
pub fn remember(folder: &Path, function: &str, payload: &str) -> std::io::Result<()> {
    let mut payloads = load(folder, function);
    payloads.retain(|known| known != payload);
    payloads.insert(0, payload.to_owned());
    payloads.truncate(KEPT);
    std::fs::create_dir_all(folder)?;
    let path = file(folder, function);
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, serde_json::to_string_pretty(&payloads)?)?;
    std::fs::rename(partial, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_come_back_newest_first_without_duplicates_and_bounded() {
        let folder = tempfile::tempdir().unwrap();
        assert!(load(folder.path(), "f").is_empty());
        remember(folder.path(), "f", "{\"a\":1}").unwrap();
        remember(folder.path(), "f", "{\"b\":2}").unwrap();
        remember(folder.path(), "f", "{\"a\":1}").unwrap();
        assert_eq!(load(folder.path(), "f"), ["{\"a\":1}", "{\"b\":2}"]);
        assert!(
            load(folder.path(), "other").is_empty(),
            "each function has its own history"
        );
        for n in 0..KEPT + 10 {
            remember(folder.path(), "f", &n.to_string()).unwrap();
        }
        assert_eq!(load(folder.path(), "f").len(), KEPT);
    }

    #[test]
    fn a_function_name_cannot_leave_the_folder() {
        let folder = Path::new("/tmp/history");
        assert_eq!(
            file(folder, "../../etc/passwd"),
            folder.join("______etc_passwd.json")
        );
    }
}
