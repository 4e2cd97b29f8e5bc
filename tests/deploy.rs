//! The digest-gated deploy against a real Docker engine, a real registry with basic auth and
//! moto: what deploys, what does not, and that a failure records nothing.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::{TestSandbox, needs};
use serde_json::Value;

/// The local stand-in for `public.ecr.aws/lambda/python:3.11`, made by `scripts/setup-docker`.
const BASE_IMAGE: &str = "lambdactl-test-base:py311";

/// Whether the engine, the base image, the wheels and the registry are here (`scripts/setup`
/// provides them); in CI their absence fails the test.
fn docker_ready() -> bool {
    if !needs("docker") || !needs("docker-registry") {
        return false;
    }
    let base = Command::new("docker")
        .args(["image", "inspect", BASE_IMAGE])
        .output();
    let wheels = std::fs::read_dir(repo().join("function/wheels")).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "whl"))
    });
    let ready = base.is_ok_and(|output| output.status.success()) && wheels;
    assert!(
        ready || std::env::var("CI").as_deref() != Ok("true"),
        "the Docker engine, {BASE_IMAGE} and function/wheels are required in CI (scripts/setup)"
    );
    if !ready {
        eprintln!("skipping: run scripts/setup for the Docker engine, {BASE_IMAGE} and wheels");
    }
    ready
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the function's project, so the test can edit it.
struct Project {
    folder: tempfile::TempDir,
}

impl Project {
    fn copy() -> Self {
        let folder = tempfile::tempdir().unwrap();
        for path in [
            ".dockerignore",
            "docker/Dockerfile",
            "function/app.py",
            "function/requirements.txt",
        ] {
            copy(&repo().join(path), &folder.path().join(path));
        }
        for entry in std::fs::read_dir(repo().join("function/wheels"))
            .unwrap()
            .flatten()
        {
            copy(
                &entry.path(),
                &folder
                    .path()
                    .join("function/wheels")
                    .join(entry.file_name()),
            );
        }
        Self { folder }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.folder.path().join(relative)
    }

    fn append(&self, relative: &str, text: &str) {
        std::fs::create_dir_all(self.path(relative).parent().unwrap()).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(relative))
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to).unwrap();
}

/// Runs `lambdactl deploy` on the project with extra arguments and returns the JSON report.
fn deploy(sandbox: &TestSandbox, project: &Project, extra: &[&str]) -> (Output, Value) {
    let context = project.path("");
    let dockerfile = project.path("docker/Dockerfile");
    let mut args = vec![
        "deploy",
        "--context",
        context.to_str().unwrap(),
        "--dockerfile",
        dockerfile.to_str().unwrap(),
        "--build-arg",
        "BASE_IMAGE=lambdactl-test-base:py311",
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    let output = sandbox.run(&args);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "deploy printed no JSON ({error}); stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

fn step<'a>(report: &'a Value, name: &str) -> &'a str {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["name"] == name)
        .and_then(|step| step["status"].as_str())
        .unwrap_or_else(|| panic!("no step {name} in {report}"))
}

/// What a failed deploy must leave as it was: the function, the digest file and the history.
#[derive(Debug, PartialEq)]
struct Recorded {
    deployed: Value,
    digest_file: Value,
    history: Vec<String>,
}

fn recorded(sandbox: &TestSandbox) -> Recorded {
    let status = sandbox.json(&["status", "--output", "json"]);
    let objects = sandbox.json(&["objects", "--output", "json"]);
    let mut history: Vec<String> = objects
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|object| object["key"].as_str())
        .filter(|key| key.starts_with("lambda-python/deploys/"))
        .map(str::to_owned)
        .collect();
    history.sort();
    Recorded {
        deployed: status["deployed_digest"].clone(),
        digest_file: status["recorded_digest"].clone(),
        history,
    }
}

/// The ids of the images lambdactl built, sorted: the engine lists images made in the same
/// second in no fixed order.
fn local_images() -> Vec<String> {
    let output = Command::new("docker")
        .args([
            "images",
            "--no-trunc",
            "--quiet",
            "--filter",
            "label=lambdactl.fingerprint",
        ])
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

#[test]
fn deploys_only_what_changed_and_records_only_what_runs() {
    if !docker_ready() {
        return;
    }
    let Some(sandbox) = TestSandbox::start() else {
        return;
    };
    let project = Project::copy();
    // A secret that .dockerignore keeps out: it must never reach the image.
    project.append(".env", "API_TOKEN=do-not-ship-me-4f1c\n");

    let first = first_deploy_runs_the_new_digest(&sandbox, &project);
    a_second_deploy_is_up_to_date_without_build_or_push(&sandbox, &project, &first);
    an_ignored_file_changes_nothing(&sandbox, &project, &first);
    let second = an_edit_to_the_handler_deploys_a_new_digest(&sandbox, &project, &first);
    the_secret_never_reaches_the_image(&second);
    rollback_returns_to_the_first_digest(&sandbox, &first, &second);

    let before = recorded(&sandbox);
    a_failing_build_records_nothing(&sandbox, &project);
    assert_eq!(recorded(&sandbox), before);
    bad_registry_credentials_record_nothing(&sandbox, &project);
    assert_eq!(recorded(&sandbox), before);
    an_interrupted_push_records_nothing(&sandbox, &project);
    assert_eq!(recorded(&sandbox), before);

    down_removes_the_local_tags_of_its_registry(sandbox);
}

/// The engine's tags that name `registry`, e.g. `127.0.0.1:40123/python-lambda-repo:fp-…`.
fn tags_naming(registry: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .output()
        .unwrap();
    assert!(output.status.success(), "docker images: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|tag| tag.starts_with(&format!("{registry}/")))
        .map(str::to_owned)
        .collect()
}

fn down_removes_the_local_tags_of_its_registry(sandbox: TestSandbox) {
    let status = sandbox.json(&["sandbox", "status", "--output", "json"]);
    let registry = status["registry"]
        .as_str()
        .expect("a registry runs")
        .to_owned();
    let tags = tags_naming(&registry);
    assert!(
        tags.iter().any(|tag| tag.contains(":fp-")),
        "the deploys tagged their builds for the sandbox registry: {tags:?}"
    );
    let down = sandbox.run_plain(&["sandbox", "down"]);
    assert!(down.status.success(), "{down:?}");
    assert!(
        String::from_utf8_lossy(&down.stderr)
            .contains(&format!("removed {} local image tags", tags.len())),
        "{down:?}"
    );
    assert_eq!(tags_naming(&registry), Vec::<String>::new());
    // Dropping the sandbox runs `down` again, which finds nothing running.
    drop(sandbox);
}

fn first_deploy_runs_the_new_digest(sandbox: &TestSandbox, project: &Project) -> String {
    let seeded = sandbox.json(&["status", "--output", "json"])["deployed_digest"].clone();
    let (output, report) = deploy(sandbox, project, &[]);
    assert!(output.status.success(), "{report}");
    assert_eq!(report["action"], "deployed", "{report}");
    assert_eq!(report["previous_digest"], seeded);
    for name in ["fingerprint", "build", "push", "gate", "update", "record"] {
        assert_eq!(step(&report, name), "done", "{name}: {report}");
    }
    let digest = report["digest"].as_str().unwrap().to_owned();
    let status = sandbox.json(&["status", "--output", "json"]);
    assert_eq!(status["deployed_digest"], digest.as_str());
    assert_eq!(status["recorded_digest"], digest.as_str());
    let images = sandbox.json(&["images", "--output", "json"]);
    let pushed = images
        .as_array()
        .unwrap()
        .iter()
        .find(|image| image["digest"] == digest.as_str())
        .unwrap();
    assert_eq!(pushed["deployed"], true);
    assert_eq!(
        pushed["media_type"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    let history = recorded(sandbox).history;
    assert_eq!(history.len(), 1, "{history:?}");
    digest
}

fn a_second_deploy_is_up_to_date_without_build_or_push(
    sandbox: &TestSandbox,
    project: &Project,
    first: &str,
) {
    let images_before = local_images();
    let ecr_before = sandbox.json(&["images", "--output", "json"]);
    let (output, report) = deploy(sandbox, project, &[]);
    assert!(output.status.success());
    assert_eq!(report["action"], "up_to_date", "{report}");
    assert_eq!(report["digest"], first);
    assert_eq!(step(&report, "build"), "skipped");
    assert_eq!(step(&report, "push"), "skipped");
    assert_eq!(step(&report, "update"), "skipped");
    assert_eq!(local_images(), images_before, "no image was built");
    assert_eq!(
        sandbox.json(&["images", "--output", "json"]),
        ecr_before,
        "nothing was pushed"
    );
    assert_eq!(recorded(sandbox).history.len(), 1, "nothing was recorded");
}

fn an_ignored_file_changes_nothing(sandbox: &TestSandbox, project: &Project, first: &str) {
    project.append("notes.txt", "not part of the image\n");
    project.append(
        "function/tests/test_extra.py",
        "# excluded by .dockerignore\n",
    );
    let (_, report) = deploy(sandbox, project, &[]);
    assert_eq!(report["action"], "up_to_date", "{report}");
    assert_eq!(report["digest"], first);
}

fn an_edit_to_the_handler_deploys_a_new_digest(
    sandbox: &TestSandbox,
    project: &Project,
    first: &str,
) -> String {
    project.append("function/app.py", "\n# a change that must deploy\n");
    let (output, report) = deploy(sandbox, project, &[]);
    assert!(output.status.success(), "{report}");
    assert_eq!(report["action"], "deployed");
    assert_eq!(report["previous_digest"], first);
    let second = report["digest"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert_eq!(
        sandbox.json(&["status", "--output", "json"])["recorded_digest"],
        second.as_str()
    );
    second
}

fn the_secret_never_reaches_the_image(digest: &str) {
    let images = Command::new("docker")
        .args([
            "images",
            "--no-trunc",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            "--filter",
            "label=lambdactl.fingerprint",
        ])
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&images.stdout).into_owned();
    assert!(!names.trim().is_empty(), "built images are tagged");
    for name in names.lines() {
        let saved = Command::new("docker")
            .args(["save", name])
            .output()
            .unwrap();
        assert!(saved.status.success());
        let image = String::from_utf8_lossy(&saved.stdout);
        assert!(
            !image.contains("do-not-ship-me-4f1c"),
            "{name} ({digest}) holds the secret"
        );
        assert!(image.contains("a change that must deploy") || !name.is_empty());
    }
}

fn rollback_returns_to_the_first_digest(sandbox: &TestSandbox, first: &str, second: &str) {
    // The short form lambdactl prints is enough to name an image.
    let output = sandbox.run(&["deploy", "--digest", &first[7..19], "--output", "json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(output.status.success(), "{report}");
    assert_eq!(report["action"], "rolled_back");
    assert_eq!(report["previous_digest"], second);
    assert_eq!(step(&report, "build"), "skipped");
    let status = sandbox.json(&["status", "--output", "json"]);
    assert_eq!(status["deployed_digest"], first);
    assert_eq!(status["recorded_digest"], first);

    let missing = format!("sha256:{}", "0".repeat(64));
    let output = sandbox.run(&["deploy", "--digest", &missing]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no image"));
}

fn a_failing_build_records_nothing(sandbox: &TestSandbox, project: &Project) {
    let dockerfile = project.path("docker/Dockerfile");
    let original = std::fs::read_to_string(&dockerfile).unwrap();
    project.append(
        "docker/Dockerfile",
        "RUN echo 'the build breaks here' && exit 3\n",
    );
    let (output, report) = deploy(sandbox, project, &[]);
    std::fs::write(&dockerfile, original).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(report["action"], "failed");
    assert_eq!(step(&report, "build"), "failed");
    assert_eq!(step(&report, "record"), "pending");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the build breaks here"),
        "the build log is shown: {stderr}"
    );
}

/// A registry of the test's own whose password is not the ECR token's.
struct Registry {
    folder: tempfile::TempDir,
    process: std::process::Child,
    port: u16,
}

impl Registry {
    fn start_with_password(password: &str) -> Self {
        let folder = tempfile::tempdir().unwrap();
        let port = free_port();
        let hash = bcrypt::hash(password, 5).unwrap();
        std::fs::write(folder.path().join("htpasswd"), format!("AWS:{hash}\n")).unwrap();
        let config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {root}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: test\n    path: {root}/htpasswd\n",
            root = folder.path().display()
        );
        std::fs::write(folder.path().join("config.yml"), config).unwrap();
        let process = Command::new("docker-registry")
            .args(["serve", folder.path().join("config.yml").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port);
        Self {
            folder,
            process,
            port,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = &self.folder;
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {port}");
}

fn bad_registry_credentials_record_nothing(sandbox: &TestSandbox, project: &Project) {
    let registry = Registry::start_with_password("not-the-ecr-token");
    project.append("function/app.py", "# pushed with the wrong password\n");
    let address = format!("127.0.0.1:{}", registry.port);
    let (output, report) = deploy(sandbox, project, &["--registry", &address]);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(step(&report, "push"), "failed");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("refused the login"), "{error}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("retrying once with a fresh token"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("auth-token") && !error.contains("auth-token"),
        "the password is never shown"
    );
}

/// Forwards connections to `target`, cutting each one after `limit` bytes from the client: a
/// network that drops in the middle of a push.
fn start_cutting_proxy(target: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let (mut client_read, mut upstream_write) =
                (client.try_clone().unwrap(), upstream.try_clone().unwrap());
            let (mut upstream_read, mut client_write) = (upstream, client);
            std::thread::spawn(move || {
                let mut sent = 0;
                let mut buffer = [0_u8; 4096];
                while let Ok(read) = client_read.read(&mut buffer) {
                    if read == 0 || sent + read > limit {
                        break;
                    }
                    sent += read;
                    if upstream_write.write_all(&buffer[..read]).is_err() {
                        break;
                    }
                }
                let _ = upstream_write.shutdown(std::net::Shutdown::Both);
                let _ = client_read.shutdown(std::net::Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut upstream_read, &mut client_write);
            });
        }
    });
    port
}

fn an_interrupted_push_records_nothing(sandbox: &TestSandbox, project: &Project) {
    let registry = sandbox.var("LAMBDACTL_REGISTRY");
    let registry_port: u16 = registry.rsplit(':').next().unwrap().parse().unwrap();
    // A new layer far larger than what the proxy lets through.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let filler: String = (0..200_000)
        .map(|_| {
            // A linear congruential generator: noise that gzip cannot shrink much.
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            char::from_digit(u32::try_from(state >> 60).unwrap(), 16).unwrap()
        })
        .collect();
    project.append("function/app.py", &format!("\n# {filler}\n"));
    let proxy = start_cutting_proxy(registry_port, 16 * 1024);
    let address = format!("127.0.0.1:{proxy}");
    let (output, report) = deploy(sandbox, project, &["--registry", &address]);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert_eq!(step(&report, "push"), "failed", "{report}");
    assert_eq!(step(&report, "update"), "pending");
}
