//! The build context as Docker sees it: `.dockerignore` applied with Docker's own rules, the
//! Dockerfile always sent, packed as a tar; and the fingerprint of every build input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest as _, Sha256};

use crate::model::Digest;

/// Where the Dockerfile goes in the tar when it lives outside the context folder.
const OUTSIDE_DOCKERFILE_NAME: &str = ".lambdactl.Dockerfile";

/// A problem with the build inputs.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("reading the build context: {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("reading .dockerignore: line {line}: {message}")]
    Pattern { line: usize, message: String },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ContextError + '_ {
    move |cause| ContextError::Io {
        path: path.to_owned(),
        cause,
    }
}

/// One `.dockerignore` line.
#[derive(Debug, Clone)]
struct Rule {
    matcher: GlobMatcher,
    /// The cleaned pattern text, for deciding which folders can be skipped.
    pattern: String,
    /// A `!` line: a match re-includes the path.
    exception: bool,
}

/// The patterns of a `.dockerignore` file, applied as Docker applies them: patterns are relative
/// to the context root, a pattern that matches a folder matches everything in it, and the last
/// matching line decides, so a later `!` line re-includes.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

impl DockerIgnore {
    /// Parses the file's text; a pattern Docker would refuse is an error naming its line.
    pub fn parse(text: &str) -> Result<Self, ContextError> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                return Err(ContextError::Pattern {
                    line: index + 1,
                    message: "empty pattern".into(),
                });
            }
            let matcher = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|error| ContextError::Pattern {
                    line: index + 1,
                    message: error.to_string(),
                })?
                .compile_matcher();
            rules.push(Rule {
                matcher,
                pattern,
                exception,
            });
        }
        Ok(Self { rules })
    }

    /// Whether a context path (relative, `/`-separated) is left out of the build.
    pub fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if matches_or_parent_matches(&rule.matcher, path) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether nothing under an excluded folder can be let back in, so the walk may skip it.
    fn can_skip_folder(&self, folder: &str) -> bool {
        let inside = format!("{folder}/");
        !self.rules.iter().any(|rule| {
            rule.exception
                && (rule.pattern.starts_with(&inside)
                    || rule.pattern.contains(['*', '?', '[', '\\']))
        })
    }
}

/// Docker cleans each pattern as Go's `filepath.Clean` does and drops a leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn matches_or_parent_matches(matcher: &GlobMatcher, path: &str) -> bool {
    if matcher.is_match(path) {
        return true;
    }
    path.match_indices('/')
        .any(|(at, _)| matcher.is_match(&path[..at]))
}

/// One file that goes into the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// The path inside the tar, relative and `/`-separated.
    pub name: String,
    pub source: PathBuf,
    pub mode: u32,
    pub size: u64,
}

/// The files of a build context, in a stable order.
#[derive(Debug, Clone)]
pub struct BuildContext {
    pub files: Vec<ContextFile>,
    /// The Dockerfile's path inside the tar, as the engine must be told.
    pub dockerfile: String,
}

impl BuildContext {
    /// Walks the context folder, leaving out what `.dockerignore` excludes. The Dockerfile and
    /// `.dockerignore` are always sent: the engine needs them even when they are excluded.
    pub fn scan(root: &Path, dockerfile: &Path) -> Result<Self, ContextError> {
        let ignore_path = root.join(".dockerignore");
        let ignore = match std::fs::read_to_string(&ignore_path) {
            Ok(text) => DockerIgnore::parse(&text)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(error) => return Err(io_error(&ignore_path)(error)),
        };
        let dockerfile = std::path::absolute(dockerfile).map_err(io_error(dockerfile))?;
        let root = std::path::absolute(root).map_err(io_error(root))?;
        let dockerfile_name = match dockerfile.strip_prefix(&root) {
            Ok(inside) => slash_path(inside),
            Err(_) => OUTSIDE_DOCKERFILE_NAME.to_owned(),
        };

        let mut files = BTreeMap::new();
        let walk = walkdir::WalkDir::new(&root)
            .follow_links(false)
            .sort_by_file_name();
        let entries = walk.into_iter().filter_entry(|entry| {
            let Ok(relative) = entry.path().strip_prefix(&root) else {
                return true;
            };
            let name = slash_path(relative);
            let folder_out = entry.file_type().is_dir()
                && !name.is_empty()
                && ignore.excludes(&name)
                && ignore.can_skip_folder(&name);
            !folder_out
        });
        for entry in entries {
            let entry = entry.map_err(|error| {
                let path = error.path().unwrap_or(&root).to_owned();
                ContextError::Io {
                    path,
                    cause: error.into(),
                }
            })?;
            if !entry.file_type().is_file() {
                continue;
            }
            let name = slash_path(entry.path().strip_prefix(&root).unwrap_or(entry.path()));
            let always = name == ".dockerignore" || name == dockerfile_name;
            if always || !ignore.excludes(&name) {
                files.insert(name.clone(), context_file(name, entry.path())?);
            }
        }
        if !files.contains_key(&dockerfile_name) {
            files.insert(
                dockerfile_name.clone(),
                context_file(dockerfile_name.clone(), &dockerfile)?,
            );
        }
        Ok(Self {
            files: files.into_values().collect(),
            dockerfile: dockerfile_name,
        })
    }

    /// The bytes the context sends, before tar headers.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|file| file.size).sum()
    }

    /// Packs the context as an uncompressed tar. Times and owners are fixed, so the same inputs
    /// always give the same tar.
    pub fn tar(&self) -> Result<Vec<u8>, ContextError> {
        let mut builder = tar::Builder::new(Vec::new());
        for file in &self.files {
            let content = std::fs::read(&file.source).map_err(io_error(&file.source))?;
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(file.mode);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, &file.name, content.as_slice())
                .map_err(io_error(&file.source))?;
        }
        builder
            .into_inner()
            .map_err(io_error(Path::new("build context tar")))
    }
}

fn context_file(name: String, path: &Path) -> Result<ContextFile, ContextError> {
    use std::os::unix::fs::PermissionsExt;

    let metadata = std::fs::metadata(path).map_err(io_error(path))?;
    Ok(ContextFile {
        name,
        source: path.to_owned(),
        mode: metadata.permissions().mode() & 0o777,
        size: metadata.len(),
    })
}

fn slash_path(path: &Path) -> String {
    path.components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Everything that decides what a build produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInputs {
    pub build_args: BTreeMap<String, String>,
    /// The target platform, e.g. `linux/amd64`.
    pub platform: String,
}

/// Hashes the context (every path, mode and content, the Dockerfile among them), the build args
/// and the platform. Same fingerprint, same image: a deploy then needs no build.
pub fn fingerprint(context: &BuildContext, inputs: &BuildInputs) -> Result<Digest, ContextError> {
    let mut hasher = Sha256::new();
    hasher.update(b"lambdactl fingerprint v1\n");
    hasher.update(format!("dockerfile\0{}\n", context.dockerfile));
    for file in &context.files {
        hasher.update(format!(
            "file\0{}\0{:o}\0{}\0",
            file.name, file.mode, file.size
        ));
        let mut reader = std::fs::File::open(&file.source).map_err(io_error(&file.source))?;
        std::io::copy(&mut reader, &mut hasher).map_err(io_error(&file.source))?;
        hasher.update(b"\n");
    }
    for (name, value) in &inputs.build_args {
        hasher.update(format!("arg\0{name}\0{value}\n"));
    }
    hasher.update(format!("platform\0{}\n", inputs.platform));
    Ok(Digest::from_hex(&hex::encode(hasher.finalize())).expect("a sha256 is 64 hex digits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text).unwrap()
    }

    #[test]
    fn patterns_are_anchored_at_the_context_root() {
        let rules = ignore("*.pyc\n/secret\n");
        assert!(rules.excludes("a.pyc"));
        assert!(
            !rules.excludes("deep/a.pyc"),
            "unlike .gitignore, *.pyc is not recursive"
        );
        assert!(rules.excludes("secret"));
        assert!(
            rules.excludes("secret/inner/file"),
            "a folder's match covers its content"
        );
        assert!(ignore("**/*.pyc").excludes("deep/er/a.pyc"));
    }

    #[test]
    fn the_last_matching_line_decides() {
        let rules = ignore("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(rules.excludes("notes.md"));
        assert!(!rules.excludes("README.md"));
        assert!(rules.excludes("README-secret.md"));
        let reordered = ignore("*.md\nREADME-secret.md\n!README*.md\n");
        assert!(!reordered.excludes("README-secret.md"));
    }

    #[test]
    fn exclude_everything_then_let_back_in() {
        let rules = ignore("*\n!docker/\n!function/app.py\n**/.env\n");
        assert!(rules.excludes("target/debug/lambdactl"));
        assert!(!rules.excludes("docker/Dockerfile"));
        assert!(!rules.excludes("function/app.py"));
        assert!(rules.excludes("function/tests/test_app.py"));
        assert!(rules.excludes("docker/.env"));
        assert!(rules.can_skip_folder("target"));
        assert!(!rules.can_skip_folder("function"));
    }

    #[test]
    fn patterns_are_cleaned_like_go_paths() {
        assert_eq!(clean("/foo/./bar/"), "foo/bar");
        assert_eq!(clean("foo/../bar"), "bar");
        assert!(ignore("./build/").excludes("build/x"));
        assert!(DockerIgnore::parse("!\n").is_err());
    }

    fn write(root: &Path, name: &str, content: &str) {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn inputs() -> BuildInputs {
        BuildInputs {
            build_args: BTreeMap::new(),
            platform: "linux/amd64".into(),
        }
    }

    #[test]
    fn the_context_holds_what_dockerignore_keeps_and_always_the_dockerfile() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), ".dockerignore", "*\n!function/app.py\n");
        write(root.path(), "docker/Dockerfile", "FROM base\n");
        write(root.path(), "function/app.py", "print(1)\n");
        write(root.path(), ".env", "TOKEN=secret\n");
        write(root.path(), ".git/objects/big", "x");
        let context =
            BuildContext::scan(root.path(), &root.path().join("docker/Dockerfile")).unwrap();
        let names: Vec<_> = context
            .files
            .iter()
            .map(|file| file.name.as_str())
            .collect();
        assert_eq!(
            names,
            [".dockerignore", "docker/Dockerfile", "function/app.py"]
        );
        assert_eq!(context.dockerfile, "docker/Dockerfile");

        let tar_bytes = context.tar().unwrap();
        let mut archive = tar::Archive::new(tar_bytes.as_slice());
        let packed: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|entry| {
                entry
                    .unwrap()
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(packed, names);
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_sent_under_a_name_of_its_own() {
        let root = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        write(root.path(), "app.py", "");
        write(elsewhere.path(), "Dockerfile", "FROM base\n");
        let context =
            BuildContext::scan(root.path(), &elsewhere.path().join("Dockerfile")).unwrap();
        assert_eq!(context.dockerfile, OUTSIDE_DOCKERFILE_NAME);
        assert!(
            context
                .files
                .iter()
                .any(|file| file.name == OUTSIDE_DOCKERFILE_NAME)
        );
    }

    #[test]
    fn the_fingerprint_changes_with_kept_inputs_only() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), ".dockerignore", "notes/\n");
        write(root.path(), "Dockerfile", "FROM base\n");
        write(root.path(), "src/deep/app.py", "v1\n");
        let scan = || BuildContext::scan(root.path(), &root.path().join("Dockerfile")).unwrap();
        let first = fingerprint(&scan(), &inputs()).unwrap();
        assert_eq!(first, fingerprint(&scan(), &inputs()).unwrap(), "stable");

        write(root.path(), "notes/todo.txt", "ignored\n");
        assert_eq!(
            first,
            fingerprint(&scan(), &inputs()).unwrap(),
            "an ignored file changes nothing"
        );

        write(root.path(), "src/deep/app.py", "v2\n");
        let nested = fingerprint(&scan(), &inputs()).unwrap();
        assert_ne!(first, nested, "a nested file counts");

        write(root.path(), "Dockerfile", "FROM other\n");
        let dockerfile = fingerprint(&scan(), &inputs()).unwrap();
        assert_ne!(nested, dockerfile, "the Dockerfile counts");

        let arm = BuildInputs {
            platform: "linux/arm64".into(),
            ..inputs()
        };
        assert_ne!(
            dockerfile,
            fingerprint(&scan(), &arm).unwrap(),
            "the platform counts"
        );
        let args = BuildInputs {
            build_args: BTreeMap::from([("BASE_IMAGE".into(), "x".into())]),
            ..inputs()
        };
        assert_ne!(
            dockerfile,
            fingerprint(&scan(), &args).unwrap(),
            "build args count"
        );
    }
}
