//! Configuration resolution: flags > environment > `lambdactl.toml` > discovery from the function.
//!
//! Flags and lambdactl's own environment variables are merged by clap before they reach this
//! module; here the file is read and laid under them, and discovery fills whatever is still
//! missing from the function's own configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::FunctionInfo;

/// The file name looked for in the current folder and in the user config folder.
pub const FILE_NAME: &str = "lambdactl.toml";

/// The function the old Terraform created, used when nothing names another.
pub const DEFAULT_FUNCTION: &str = "python-lambda";

/// The build context and Dockerfile of the project layout lambdactl ships with.
pub const DEFAULT_CONTEXT: &str = ".";
pub const DEFAULT_DOCKERFILE: &str = "docker/Dockerfile";

/// The folder of saved payloads the invoke editor offers, relative to the current folder.
pub const DEFAULT_PAYLOADS: &str = "assets/payloads";

/// What `lambdactl.toml` may hold. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub function: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub repository: Option<String>,
    pub bucket: Option<String>,
    pub log_group: Option<String>,
    pub architecture: Option<String>,
    /// The registry host to push to instead of the repository URI's host (the sandbox's).
    pub registry: Option<String>,
    /// The build context folder and the Dockerfile, relative to the current folder.
    pub context: Option<PathBuf>,
    pub dockerfile: Option<PathBuf>,
    /// Build arguments, such as `BASE_IMAGE`.
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// How many events the console's live tail keeps (default 100,000).
    pub tail_lines: Option<usize>,
    /// The folder of saved payloads, relative to the current folder.
    pub payloads: Option<PathBuf>,
    /// Key binding overrides: key name to action name, laid over the embedded defaults.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// Settings given on the command line or in lambdactl's environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandLine {
    pub config_file: Option<PathBuf>,
    pub function: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub repository: Option<String>,
    pub bucket: Option<String>,
    pub log_group: Option<String>,
    pub architecture: Option<String>,
    pub registry: Option<String>,
    pub context: Option<PathBuf>,
    pub dockerfile: Option<PathBuf>,
    /// `KEY=VALUE` pairs; they replace the file's values of the same keys.
    pub build_args: BTreeMap<String, String>,
}

/// The merged settings, before discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub function: String,
    /// Only set when lambdactl must override the AWS chain; `None` lets the chain decide.
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub repository: Option<String>,
    pub bucket: Option<String>,
    pub log_group: Option<String>,
    pub architecture: Option<String>,
    pub registry: Option<String>,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub build_args: BTreeMap<String, String>,
    /// How many events the live tail keeps; `None` takes the default.
    pub tail_lines: Option<usize>,
    /// The folder whose JSON files the invoke editor offers as saved payloads.
    pub payloads: PathBuf,
    pub keys: BTreeMap<String, String>,
    /// The file the settings were read from, for error messages and `status`.
    pub source_file: Option<PathBuf>,
}

impl Settings {
    /// Merges the command line over the file. `env` looks up the AWS chain's own variables, so
    /// a value from the file never hides `AWS_REGION`, `AWS_PROFILE` or `AWS_ENDPOINT_URL`.
    pub fn merge(
        cli: CommandLine,
        file: FileConfig,
        source_file: Option<PathBuf>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let env_has = |names: &[&str]| names.iter().any(|name| env(name).is_some());
        let from_file_unless_env = |flag: Option<String>, names: &[&str], file: Option<String>| {
            flag.or(if env_has(names) { None } else { file })
        };
        Self {
            function: cli
                .function
                .or(file.function)
                .unwrap_or_else(|| DEFAULT_FUNCTION.into()),
            region: from_file_unless_env(
                cli.region,
                &["AWS_REGION", "AWS_DEFAULT_REGION"],
                file.region,
            ),
            profile: from_file_unless_env(cli.profile, &["AWS_PROFILE"], file.profile),
            endpoint_url: from_file_unless_env(
                cli.endpoint_url,
                &["AWS_ENDPOINT_URL"],
                file.endpoint_url,
            ),
            repository: cli.repository.or(file.repository),
            bucket: cli.bucket.or(file.bucket),
            log_group: cli.log_group.or(file.log_group),
            architecture: cli.architecture.or(file.architecture),
            registry: cli.registry.or(file.registry),
            context: cli
                .context
                .or(file.context)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONTEXT)),
            dockerfile: cli
                .dockerfile
                .or(file.dockerfile)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DOCKERFILE)),
            build_args: file.build_args.into_iter().chain(cli.build_args).collect(),
            tail_lines: file.tail_lines,
            payloads: file
                .payloads
                .unwrap_or_else(|| PathBuf::from(DEFAULT_PAYLOADS)),
            keys: file.keys,
            source_file,
        }
    }

    /// Reads the configuration file (the named one, or the first found) and merges the command
    /// line over it.
    pub fn load(cli: CommandLine) -> Result<Self, ConfigError> {
        let path = match &cli.config_file {
            Some(path) => Some(path.clone()),
            None => find_file(Path::new("."), user_config_dir().as_deref()),
        };
        let file = match &path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Ok(Self::merge(cli, file, path, |name| {
            std::env::var(name).ok()
        }))
    }
}

/// The user's config folder for lambdactl (`~/.config/lambdactl` on Linux).
pub fn user_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "lambdactl").map(|dirs| dirs.config_dir().to_owned())
}

/// The first `lambdactl.toml` in the current folder, then in the user config folder.
pub fn find_file(current: &Path, user_dir: Option<&Path>) -> Option<PathBuf> {
    std::iter::once(current)
        .chain(user_dir)
        .map(|dir| dir.join(FILE_NAME))
        .find(|path| path.is_file())
}

/// Reads and parses one configuration file.
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
        path: path.to_owned(),
        cause,
    })?;
    toml::from_str(&text).map_err(|error| {
        // The position of the mistake, as an editor counts it.
        let at = error.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: ")
        });
        ConfigError::Parse {
            path: path.to_owned(),
            message: format!("{}{}", at.unwrap_or_default(), error.message()),
        }
    })
}

/// Where each of the function's parts lives, after discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    pub repository: Option<String>,
    pub bucket: Option<String>,
    pub log_group: String,
    pub architecture: String,
}

impl Targets {
    /// Fills what the settings leave open from the function: its image URI names the
    /// repository, `S3_BUCKET_NAME` the bucket, its logging config (or `/aws/lambda/<name>`) the
    /// log group and `Architectures` the build platform.
    pub fn discover(settings: &Settings, function: &FunctionInfo) -> Self {
        Self {
            repository: settings
                .repository
                .clone()
                .or_else(|| function.repository_name()),
            bucket: settings
                .bucket
                .clone()
                .or_else(|| function.bucket_variable.clone()),
            log_group: settings
                .log_group
                .clone()
                .or_else(|| function.log_group.clone())
                .unwrap_or_else(|| format!("/aws/lambda/{}", function.name)),
            architecture: settings
                .architecture
                .clone()
                .unwrap_or_else(|| function.architecture()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> FileConfig {
        FileConfig {
            function: Some("from-file".into()),
            region: Some("eu-west-1".into()),
            endpoint_url: Some("http://file:1".into()),
            bucket: Some("file-bucket".into()),
            ..FileConfig::default()
        }
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let cli = CommandLine {
            function: Some("from-flag".into()),
            ..CommandLine::default()
        };
        let settings = Settings::merge(cli, file(), None, |_| None);
        assert_eq!(settings.function, "from-flag");
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.bucket.as_deref(), Some("file-bucket"));

        let defaults = Settings::merge(CommandLine::default(), FileConfig::default(), None, |_| {
            None
        });
        assert_eq!(defaults.function, DEFAULT_FUNCTION);
        assert_eq!(defaults.region, None);
        assert_eq!(defaults.payloads, PathBuf::from(DEFAULT_PAYLOADS));
    }

    #[test]
    fn the_file_names_the_saved_payloads_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "payloads = \"events/test\"\n").unwrap();
        let file = read_file(&path).unwrap();
        let settings = Settings::merge(CommandLine::default(), file, Some(path), |_| None);
        assert_eq!(settings.payloads, PathBuf::from("events/test"));
    }

    #[test]
    fn aws_environment_wins_over_the_file() {
        let env = |name: &str| (name == "AWS_ENDPOINT_URL").then(|| "http://env:2".to_owned());
        let settings = Settings::merge(CommandLine::default(), file(), None, env);
        // None means the AWS chain reads the variable itself.
        assert_eq!(settings.endpoint_url, None);
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn discovery_fills_only_what_settings_leave_open() {
        let function = FunctionInfo {
            name: "python-lambda".into(),
            image_uri: Some(
                "1.dkr.ecr.us-east-1.amazonaws.com/python-lambda-repo@sha256:00".into(),
            ),
            bucket_variable: Some("lambda-artifacts-0123abcd".into()),
            architectures: vec!["arm64".into()],
            ..FunctionInfo::default()
        };
        let discovered = Targets::discover(&Settings::default(), &function);
        assert_eq!(discovered.repository.as_deref(), Some("python-lambda-repo"));
        assert_eq!(
            discovered.bucket.as_deref(),
            Some("lambda-artifacts-0123abcd")
        );
        assert_eq!(discovered.log_group, "/aws/lambda/python-lambda");
        assert_eq!(discovered.architecture, "arm64");

        let settings = Settings {
            log_group: Some("/custom".into()),
            ..Settings::default()
        };
        assert_eq!(Targets::discover(&settings, &function).log_group, "/custom");
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "functon = \"typo\"\n").unwrap();
        let error = read_file(&path).unwrap_err().to_string();
        assert!(error.contains("functon"), "{error}");
    }

    #[test]
    fn the_current_folder_is_searched_before_the_user_folder() {
        let current = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        std::fs::write(user.path().join(FILE_NAME), "").unwrap();
        assert_eq!(
            find_file(current.path(), Some(user.path())),
            Some(user.path().join(FILE_NAME))
        );
        std::fs::write(current.path().join(FILE_NAME), "").unwrap();
        assert_eq!(
            find_file(current.path(), Some(user.path())),
            Some(current.path().join(FILE_NAME))
        );
    }
}
