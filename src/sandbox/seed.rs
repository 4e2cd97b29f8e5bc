//! Seeds the stand-ins like the old Terraform and a few weeks of use: the role, the repository
//! with several images, the bucket with data objects and the digest file, the log group with
//! Lambda-style streams, and the function running one of the images.

use std::fmt;

use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata};
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest as _, Sha256};

use super::{SandboxError, SandboxState};

pub const FUNCTION_NAME: &str = "python-lambda";
pub const REPOSITORY_NAME: &str = "python-lambda-repo";
pub const ROLE_NAME: &str = "role-for-lambda-python";
pub const LOG_GROUP: &str = "/aws/lambda/python-lambda";
pub const DIGEST_KEY: &str = "lambda-python/image_digest.txt";

/// How many images the seeded repository holds, and which one the function runs (1-based).
const IMAGE_COUNT: usize = 3;
const DEPLOYED_IMAGE: usize = 2;
/// Days of seeded history and invocations per day: one data object and one log entry group
/// per invocation.
const DAYS: i64 = 6;
const INVOCATIONS_PER_DAY: i64 = 6;

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// A bucket name like the old Terraform's: `lambda-artifacts-` and 8 random hex digits.
pub fn new_bucket_name() -> String {
    format!("lambda-artifacts-{:08x}", rand::random::<u32>())
}

/// What seeding made, for the user to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeedSummary {
    pub already_seeded: bool,
    pub images: usize,
    pub objects: usize,
    pub log_streams: usize,
    pub deployed_digest: String,
}

impl fmt::Display for SeedSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.already_seeded {
            return write!(f, "the sandbox was already seeded");
        }
        write!(
            f,
            "seeded {} images, {} objects and {} log streams; {FUNCTION_NAME} runs {}",
            self.images, self.objects, self.log_streams, self.deployed_digest
        )
    }
}

struct Clients {
    iam: aws_sdk_iam::Client,
    ecr: aws_sdk_ecr::Client,
    s3: aws_sdk_s3::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    lambda: aws_sdk_lambda::Client,
}

impl Clients {
    async fn new(endpoint: &str) -> Self {
        let shared = super::sdk_config(endpoint).await;
        let s3_config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(true)
            .build();
        Self {
            iam: aws_sdk_iam::Client::new(&shared),
            ecr: aws_sdk_ecr::Client::new(&shared),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&shared),
            lambda: aws_sdk_lambda::Client::new(&shared),
        }
    }
}

/// Turns an SDK error into a seeding error, unless the service says the thing already exists;
/// then seeding goes on, which makes a second seed of a half-seeded sandbox safe.
fn tolerate_existing<T, E>(doing: &str, result: Result<T, E>) -> Result<Option<T>, SandboxError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) if error.code().is_some_and(is_already_exists) => Ok(None),
        Err(error) => Err(failed(doing, &error)),
    }
}

fn is_already_exists(code: &str) -> bool {
    [
        "AlreadyExists",
        "EntityAlreadyExists",
        "ResourceConflict",
        "BucketAlreadyOwnedByYou",
    ]
    .iter()
    .any(|known| code.contains(known))
}

fn failed(doing: &str, error: &(dyn std::error::Error + 'static)) -> SandboxError {
    SandboxError::Seed(format!("{doing}: {}", DisplayErrorContext(error)))
}

/// Seeds everything. The function is created last, so its presence means seeding finished.
pub async fn seed(
    state: &SandboxState,
    progress: &mut dyn FnMut(&str),
) -> Result<SeedSummary, SandboxError> {
    let clients = Clients::new(&state.endpoint()).await;
    if clients
        .lambda
        .get_function()
        .function_name(FUNCTION_NAME)
        .send()
        .await
        .is_ok()
    {
        return Ok(SeedSummary {
            already_seeded: true,
            ..SeedSummary::default()
        });
    }
    let now = Utc::now();

    progress("creating IAM role");
    let role_arn = seed_role(&clients, &state.bucket).await?;
    progress("creating ECR repository and images");
    let (repository_uri, digests) = seed_images(&clients, state, progress).await?;
    let deployed = digests[DEPLOYED_IMAGE - 1].clone();
    let invocations = invocations(now);
    progress("creating S3 bucket and objects");
    let objects = seed_bucket(&clients, &state.bucket, &deployed, &invocations).await?;
    progress("creating log group and streams");
    let log_streams = seed_logs(&clients, &state.bucket, &invocations).await?;
    progress("creating Lambda function");
    seed_function(
        &clients,
        &role_arn,
        &format!("{repository_uri}@{deployed}"),
        &state.bucket,
    )
    .await?;
    Ok(SeedSummary {
        already_seeded: false,
        images: digests.len(),
        objects,
        log_streams,
        deployed_digest: deployed,
    })
}

async fn seed_role(clients: &Clients, bucket: &str) -> Result<String, SandboxError> {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    });
    let created = clients
        .iam
        .create_role()
        .role_name(ROLE_NAME)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await;
    tolerate_existing("creating IAM role", created)?;

    let policies = [
        (
            "lambda-logs",
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "arn:aws:logs:*:*:*"
                }]
            }),
        ),
        (
            "lambda-s3",
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
                    "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")]
                }]
            }),
        ),
    ];
    for (name, document) in policies {
        clients
            .iam
            .put_role_policy()
            .role_name(ROLE_NAME)
            .policy_name(name)
            .policy_document(document.to_string())
            .send()
            .await
            .map_err(|error| failed("attaching IAM role policy", &error))?;
    }
    let role = clients
        .iam
        .get_role()
        .role_name(ROLE_NAME)
        .send()
        .await
        .map_err(|error| failed("reading IAM role", &error))?;
    Ok(role
        .role()
        .map(|role| role.arn().to_owned())
        .unwrap_or_default())
}

/// The hex sha256 of some bytes, in the registry's `sha256:` form.
fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A schema-2 manifest and its config, as a build of the function would produce: three base
/// layers shared by every build and one layer with the handler that changes per build.
fn image_manifest(build: usize) -> String {
    let layer_blobs: Vec<Vec<u8>> = (1..=3)
        .map(|base| format!("lambda python 3.11 base layer {base}").into_bytes())
        .chain(std::iter::once(
            format!("function/app.py build {build}").into_bytes(),
        ))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Cmd": ["app.lambda_handler"],
            "WorkingDir": "/var/task",
            "Env": ["LAMBDA_TASK_ROOT=/var/task"],
            "Labels": { "lambdactl.sandbox.build": build.to_string() }
        },
        "rootfs": {
            "type": "layers",
            "diff_ids": layer_blobs.iter().map(|blob| sha256_digest(&[blob.as_slice(), b"tar"].concat())).collect::<Vec<_>>()
        }
    })
    .to_string();
    let layers: Vec<_> = layer_blobs
        .iter()
        .map(|blob| {
            serde_json::json!({
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": blob.len(),
                "digest": sha256_digest(blob)
            })
        })
        .collect();
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": sha256_digest(config.as_bytes())
        },
        "layers": layers
    })
    .to_string()
}

async fn seed_images(
    clients: &Clients,
    state: &SandboxState,
    progress: &mut dyn FnMut(&str),
) -> Result<(String, Vec<String>), SandboxError> {
    let created = clients
        .ecr
        .create_repository()
        .repository_name(REPOSITORY_NAME)
        .send()
        .await;
    tolerate_existing("creating ECR repository", created)?;
    let described = clients
        .ecr
        .describe_repositories()
        .repository_names(REPOSITORY_NAME)
        .send()
        .await
        .map_err(|error| failed("reading ECR repository", &error))?;
    let uri = described
        .repositories()
        .first()
        .and_then(|repository| repository.repository_uri())
        .unwrap_or_default()
        .to_owned();

    if let Some(digests) = real_images(clients, state, progress).await? {
        return Ok((uri, digests));
    }
    let mut digests = Vec::new();
    for build in 1..=IMAGE_COUNT {
        let manifest = image_manifest(build);
        let digest = sha256_digest(manifest.as_bytes());
        let mut tags = vec![format!("v{build}")];
        if build == IMAGE_COUNT {
            tags.push("latest".to_owned());
        }
        for tag in tags {
            let put = clients
                .ecr
                .put_image()
                .repository_name(REPOSITORY_NAME)
                .image_manifest(&manifest)
                .image_manifest_media_type(MANIFEST_MEDIA_TYPE)
                .image_digest(&digest)
                .image_tag(tag)
                .send()
                .await;
            tolerate_existing("registering image in ECR", put)?;
        }
        digests.push(digest);
    }
    Ok((uri, digests))
}

/// Builds and pushes the seeded images through the sandbox registry when a Docker engine
/// answers, and waits until the relay has registered them in ECR; `None` without an engine.
async fn real_images(
    clients: &Clients,
    state: &SandboxState,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Vec<String>>, SandboxError> {
    let Some(registry) = &state.registry else {
        return Ok(None);
    };
    let Some(docker) = super::images::reachable_engine().await else {
        progress("no Docker engine answers: the seeded images are manifests only");
        return Ok(None);
    };
    progress("building and pushing the seeded images (a Docker engine answers)");
    let (user, password) = super::registry::ecr_login(state.port).await?;
    let digests = super::images::push_history(
        &docker,
        &registry.address(),
        REPOSITORY_NAME,
        (&user, &password),
        IMAGE_COUNT,
    )
    .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    for digest in &digests {
        loop {
            let id = aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build();
            let listed = clients
                .ecr
                .describe_images()
                .repository_name(REPOSITORY_NAME)
                .image_ids(id)
                .send()
                .await
                .is_ok();
            if listed {
                break;
            }
            if std::time::Instant::now() > deadline {
                return Err(SandboxError::Seed(format!(
                    "the registry took {digest}, but ECR does not list it; see relay.log"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    Ok(Some(digests))
}

/// One seeded run of the function: when it ran, its request id and the object it wrote.
struct Invocation {
    at: DateTime<Utc>,
    request_id: String,
    key: String,
}

/// Seeded invocations over the last days, oldest first, the newest a few minutes ago. Ids come
/// from a hash of the position, so a second seed writes the same keys instead of new ones.
fn invocations(now: DateTime<Utc>) -> Vec<Invocation> {
    (0..DAYS * INVOCATIONS_PER_DAY)
        .rev()
        .map(|age| {
            let at = now - Duration::minutes(5) - Duration::hours(age * 24 / INVOCATIONS_PER_DAY);
            let hash = hex::encode(Sha256::digest(age.to_le_bytes()));
            let request_id = format!(
                "{}-{}-{}-{}-{}",
                &hash[0..8],
                &hash[8..12],
                &hash[12..16],
                &hash[16..20],
                &hash[20..32]
            );
            let key = format!(
                "data-{}-{}.json",
                at.format("%Y-%m-%d_%H-%M-%S-%6f"),
                &hash[32..40]
            );
            Invocation {
                at,
                request_id,
                key,
            }
        })
        .collect()
}

async fn seed_bucket(
    clients: &Clients,
    bucket: &str,
    deployed: &str,
    invocations: &[Invocation],
) -> Result<usize, SandboxError> {
    let created = clients.s3.create_bucket().bucket(bucket).send().await;
    tolerate_existing("creating S3 bucket", created)?;
    for (number, invocation) in invocations.iter().enumerate() {
        let body = serde_json::json!({
            "userId": number % 10 + 1,
            "id": number + 1,
            "title": format!("placeholder item {}", number + 1),
            "completed": number % 3 == 0
        });
        clients
            .s3
            .put_object()
            .bucket(bucket)
            .key(&invocation.key)
            .content_type("application/json")
            .body(body.to_string().into_bytes().into())
            .send()
            .await
            .map_err(|error| failed("writing data object", &error))?;
    }
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(DIGEST_KEY)
        .content_type("text/plain")
        .body(format!("{deployed}\n").into_bytes().into())
        .send()
        .await
        .map_err(|error| failed("writing the digest file", &error))?;
    Ok(invocations.len() + 1)
}

/// The lines Lambda and the handler write for one invocation, with their times in ms.
fn invocation_lines(invocation: &Invocation, bucket: &str, cold: bool) -> Vec<(i64, String)> {
    let start = invocation.at.timestamp_millis();
    let id = &invocation.request_id;
    let stamp = |offset: i64| {
        DateTime::from_timestamp_millis(start + offset)
            .unwrap_or(invocation.at)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let init = if cold {
        "\tInit Duration: 412.08 ms"
    } else {
        ""
    };
    vec![
        (start, format!("START RequestId: {id} Version: $LATEST")),
        (
            start + 3,
            format!(
                "[INFO]\t{}\t{id}\tfetching https://jsonplaceholder.typicode.com/todos/1",
                stamp(3)
            ),
        ),
        (
            start + 187,
            format!(
                "[INFO]\t{}\t{id}\twrote s3://{bucket}/{}",
                stamp(187),
                invocation.key
            ),
        ),
        (start + 190, format!("END RequestId: {id}")),
        (
            start + 190,
            format!(
                "REPORT RequestId: {id}\tDuration: 189.52 ms\tBilled Duration: 190 ms\tMemory Size: \
                 256 MB\tMax Memory Used: 81 MB{init}"
            ),
        ),
    ]
}

async fn seed_logs(
    clients: &Clients,
    bucket: &str,
    invocations: &[Invocation],
) -> Result<usize, SandboxError> {
    let created = clients
        .logs
        .create_log_group()
        .log_group_name(LOG_GROUP)
        .send()
        .await;
    tolerate_existing("creating log group", created)?;

    // Lambda opens a stream per execution environment; here one per seeded day.
    let mut streams = 0;
    for day in invocations.chunks(usize::try_from(INVOCATIONS_PER_DAY).unwrap_or(1)) {
        let first = &day[0];
        let name = format!(
            "{}/[$LATEST]{}",
            first.at.format("%Y/%m/%d"),
            first.request_id.replace('-', "")
        );
        let created = clients
            .logs
            .create_log_stream()
            .log_group_name(LOG_GROUP)
            .log_stream_name(&name)
            .send()
            .await;
        // A stream that already existed already holds its events; writing them again would
        // duplicate every line.
        if tolerate_existing("creating log stream", created)?.is_none() {
            continue;
        }
        let events: Vec<_> = day
            .iter()
            .enumerate()
            .flat_map(|(index, invocation)| invocation_lines(invocation, bucket, index == 0))
            .map(|(timestamp, message)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(timestamp)
                    .message(message)
                    .build()
                    .expect("timestamp and message are set")
            })
            .collect();
        clients
            .logs
            .put_log_events()
            .log_group_name(LOG_GROUP)
            .log_stream_name(&name)
            .set_log_events(Some(events))
            .send()
            .await
            .map_err(|error| failed("writing log events", &error))?;
        streams += 1;
    }
    Ok(streams)
}

async fn seed_function(
    clients: &Clients,
    role_arn: &str,
    image_uri: &str,
    bucket: &str,
) -> Result<(), SandboxError> {
    use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, PackageType};

    let environment = Environment::builder()
        .variables("S3_BUCKET_NAME", bucket)
        .build();
    let created = clients
        .lambda
        .create_function()
        .function_name(FUNCTION_NAME)
        .role(role_arn)
        .package_type(PackageType::Image)
        .code(FunctionCode::builder().image_uri(image_uri).build())
        .environment(environment)
        .architectures(Architecture::X8664)
        .timeout(30)
        .memory_size(256)
        .send()
        .await;
    tolerate_existing("creating Lambda function", created)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_keys_are_unique_and_sort_in_time_order() {
        let seeded = invocations(Utc::now());
        assert_eq!(
            seeded.len(),
            usize::try_from(DAYS * INVOCATIONS_PER_DAY).unwrap()
        );
        let keys: Vec<_> = seeded.iter().map(|i| i.key.clone()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(keys, sorted);
        assert!(seeded.windows(2).all(|pair| pair[0].at < pair[1].at));
    }

    #[test]
    fn every_build_has_its_own_manifest_digest() {
        let digests: std::collections::BTreeSet<_> = (1..=IMAGE_COUNT)
            .map(|build| sha256_digest(image_manifest(build).as_bytes()))
            .collect();
        assert_eq!(digests.len(), IMAGE_COUNT);
        let manifest: serde_json::Value = serde_json::from_str(&image_manifest(1)).unwrap();
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["layers"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn bucket_names_follow_the_terraform_pattern() {
        let name = new_bucket_name();
        let suffix = name.strip_prefix("lambda-artifacts-").unwrap();
        assert_eq!(suffix.len(), 8);
        assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
