//! Shared by the integration tests: a real sandbox (moto on a free port) in a temporary folder,
//! and the lambdactl binary run against it.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub mod logs;
pub mod proxy;
pub mod tmux;

/// The AWS chain's variables, removed from every child so a developer's real credentials or
/// profile can never be used by a test.
const AWS_VARIABLES: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "LAMBDACTL_FUNCTION",
    "LAMBDACTL_CONFIG",
];

/// Whether a program the test needs is installed. In CI a missing one fails the test; on a
/// developer's machine the test says why it skips.
pub fn needs(program: &str) -> bool {
    if which(program).is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{program} is required in CI; .ci/run installs it through scripts/setup"
    );
    eprintln!("skipping: {program} is not installed (scripts/setup installs it)");
    false
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The built binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_lambdactl")
}

/// A sandbox of the test's own, stopped when dropped.
pub struct TestSandbox {
    folder: tempfile::TempDir,
    /// The `export` lines of `lambdactl sandbox env`, parsed.
    pub env: Vec<(String, String)>,
}

impl TestSandbox {
    /// Starts a sandbox, or returns `None` (outside CI) when Python is missing.
    pub fn start() -> Option<Self> {
        if !needs("python3") {
            return None;
        }
        let folder = tempfile::tempdir().expect("a temporary folder");
        let mut sandbox = Self {
            folder,
            env: Vec::new(),
        };
        let up = sandbox.run_plain(&["sandbox", "up"]);
        assert!(
            up.status.success(),
            "sandbox up failed: {}",
            String::from_utf8_lossy(&up.stderr)
        );
        let exports = sandbox.run_plain(&["sandbox", "env"]);
        assert!(
            exports.status.success(),
            "{}",
            String::from_utf8_lossy(&exports.stderr)
        );
        sandbox.env = String::from_utf8(exports.stdout)
            .expect("UTF-8")
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
        Some(sandbox)
    }

    pub fn folder(&self) -> &Path {
        self.folder.path()
    }

    /// The value of one of the sandbox's variables, e.g. `AWS_ENDPOINT_URL`.
    pub fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find_map(|(known, value)| (known == name).then_some(value.as_str()))
            .unwrap_or_else(|| panic!("sandbox env has no {name}"))
    }

    /// A command with the AWS chain cleared, the sandbox folder set and the user's config
    /// folder moved away, so only what the test sets is used.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        for name in AWS_VARIABLES {
            command.env_remove(name);
        }
        command
            .env("LAMBDACTL_SANDBOX_DIR", self.folder())
            .env("XDG_CONFIG_HOME", self.folder().join("config"))
            .env("HOME", self.folder())
            .current_dir(self.folder());
        command
    }

    /// Runs lambdactl without the sandbox's AWS variables.
    pub fn run_plain(&self, args: &[&str]) -> Output {
        self.command(binary())
            .args(args)
            .output()
            .expect("lambdactl runs")
    }

    /// Runs a program with the sandbox's AWS variables, as after `eval "$(lambdactl sandbox env)"`.
    pub fn run_with_env(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .output()
            .expect("the program runs")
    }

    /// Runs lambdactl with the sandbox's AWS variables.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_env(binary(), args)
    }

    /// Runs lambdactl, expects success and parses its JSON output.
    pub fn json(&self, args: &[&str]) -> Value {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "lambdactl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "lambdactl {args:?} printed no JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        let down = self.run_plain(&["sandbox", "down"]);
        if !down.status.success() {
            eprintln!(
                "sandbox down failed: {}",
                String::from_utf8_lossy(&down.stderr)
            );
        }
    }
}

/// Whether a text is a digest in the one form lambdactl shows.
pub fn is_digest(value: &Value) -> bool {
    value
        .as_str()
        .and_then(|text| text.strip_prefix("sha256:"))
        .is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}
