//! Plain HTTP to the sandbox's own servers on 127.0.0.1 (moto's control API, the registry).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::SandboxError;

/// Sends one request to `127.0.0.1:port` and returns the status and body.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<(u16, bytes::Bytes), SandboxError> {
    let doing = format!("calling 127.0.0.1:{port}: {method} {path}");
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{port}{path}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))
        .map_err(|error| SandboxError::Setup(format!("{doing}: {error}")))?;
    let call = async {
        let response = client.request(request).await?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes);
        Ok::<_, hyper_util::client::legacy::Error>((status, body.unwrap_or_default()))
    };
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(error)) => Err(SandboxError::Setup(format!("{doing}: {error}"))),
        Err(_) => Err(SandboxError::Setup(format!(
            "{doing}: no answer within 10 s"
        ))),
    }
}
