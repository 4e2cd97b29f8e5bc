//! A small HTTP/1.1 proxy on loopback in front of the sandbox, for answers moto cannot give by
//! itself. A rule looks at each request and has it forwarded, forwarded with headers set on the
//! response, or answered by the proxy alone.
//!
//! It speaks just enough HTTP for the AWS SDK: a request line, headers and a Content-Length
//! body, with the client's connection kept alive; one upstream connection per request; the
//! response relayed as it comes, framed by Content-Length, chunked encoding or the close.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a connection may sit idle before the proxy gives up on it.
const IDLE: Duration = Duration::from_secs(30);
/// The most a request or response head may hold.
const MAX_HEAD: usize = 64 * 1024;
/// Headers that describe one connection and are never passed on.
const HOP_BY_HOP: &[&str] = &["connection", "keep-alive", "proxy-connection", "expect"];

/// A request as the rule sees it, its body read in full.
pub struct Request {
    head: Head,
    body: Vec<u8>,
}

impl Request {
    /// The request line, e.g. `POST /2015-03-31/functions/f/invocations HTTP/1.1`.
    pub fn line(&self) -> &str {
        &self.head.start
    }

    pub fn method(&self) -> &str {
        self.head.start.split(' ').next().unwrap_or_default()
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        let target = self.head.start.split(' ').nth(1).unwrap_or_default();
        target.split('?').next().unwrap_or_default()
    }

    pub fn headers(&self) -> &[(String, String)] {
        &self.head.headers
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// An answer the proxy gives without asking upstream; Content-Length is added when sent.
pub struct Response {
    status: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// `status` is the code and reason, e.g. `400 Bad Request`.
    pub fn new(status: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: status.to_owned(),
            headers: Vec::new(),
            body: body.into(),
        }
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        write!(out, "HTTP/1.1 {}\r\n", self.status)?;
        for (name, value) in &self.headers {
            write!(out, "{name}: {value}\r\n")?;
        }
        write!(out, "content-length: {}\r\n\r\n", self.body.len())?;
        out.write_all(&self.body)
    }
}

/// What the proxy does with one request.
pub enum Action {
    /// Pass it on and relay the answer unchanged.
    Forward,
    /// Pass it on and set these headers on the answer, replacing any of the same name.
    ForwardSetting(Vec<(String, String)>),
    /// Answer with this, without asking upstream.
    Answer(Response),
}

type Rule = dyn Fn(&Request) -> Action + Send + Sync;

/// What the proxy threads share.
struct Shared {
    upstream: SocketAddr,
    rule: Box<Rule>,
    stop: AtomicBool,
    /// Whatever could not be relayed faithfully.
    problems: Mutex<Vec<String>>,
}

impl Shared {
    fn problem(&self, text: String) {
        self.problems.lock().unwrap().push(text);
    }
}

/// The proxy: a listener on a loopback port and a thread per client connection. It stops
/// accepting when dropped.
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream`, a plain `http://host:port` endpoint, that asks
    /// `rule` what to do with each request.
    pub fn start(
        upstream: &str,
        rule: impl Fn(&Request) -> Action + Send + Sync + 'static,
    ) -> Self {
        let authority = upstream
            .strip_prefix("http://")
            .unwrap_or_else(|| panic!("the upstream {upstream} is plain HTTP"))
            .trim_end_matches('/');
        let upstream = authority
            .to_socket_addrs()
            .expect("the upstream resolves")
            .next()
            .expect("the upstream has an address");
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            rule: Box::new(rule),
            stop: AtomicBool::new(false),
            problems: Mutex::default(),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || accept(&listener, &accepting));
        Self { address, shared }
    }

    /// The endpoint to give a client in place of the upstream's.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// What the proxy could not relay faithfully so far; a test should fail on any.
    pub fn problems(&self) -> Vec<String> {
        self.shared.problems.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

fn accept(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                let serving = shared.clone();
                std::thread::spawn(move || {
                    if let Err(error) = serve(client, &serving) {
                        serving.problem(format!("relaying failed: {error}"));
                    }
                });
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => {
                shared.problem(format!("accept failed: {error}"));
                return;
            }
        }
    }
}

/// A request line or status line with its headers.
struct Head {
    start: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(known, _)| known.eq_ignore_ascii_case(name))
            .flat_map(|(_, value)| value.split(','))
            .any(|part| part.trim().eq_ignore_ascii_case(token))
    }

    fn content_length(&self) -> io::Result<Option<u64>> {
        self.header("content-length")
            .map(|value| {
                value
                    .trim()
                    .parse()
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a bad Content-Length"))
            })
            .transpose()
    }

    /// The head to send on: without the hop-by-hop headers and those `set` replaces, then
    /// `set`.
    fn forwarded(&self, set: &[(String, String)]) -> Vec<u8> {
        use std::fmt::Write as _;

        let mut out = format!("{}\r\n", self.start);
        for (name, value) in &self.headers {
            let hop_by_hop = HOP_BY_HOP.iter().any(|hop| name.eq_ignore_ascii_case(hop));
            let replaced = set.iter().any(|(new, _)| name.eq_ignore_ascii_case(new));
            if !hop_by_hop && !replaced {
                let _ = write!(out, "{name}: {value}\r\n");
            }
        }
        for (name, value) in set {
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("\r\n");
        out.into_bytes()
    }
}

/// Reads one head; `None` when the peer closed cleanly before sending anything.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut size = 0;
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line)?;
        if read == 0 {
            if lines.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the head ended early",
            ));
        }
        size += read;
        if size > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "an overlong head",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            break;
        }
        lines.push(line);
    }
    let start = lines.remove(0);
    let headers = lines
        .into_iter()
        .map(|line| {
            line.split_once(':')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a header without ':'"))
        })
        .collect::<io::Result<_>>()?;
    Ok(Some(Head { start, headers }))
}

/// Serves one client connection, request after request, until the client closes it.
fn serve(client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_read_timeout(Some(IDLE))?;
    client.set_write_timeout(Some(IDLE))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut writer = client;
    while !shared.stop.load(Ordering::SeqCst) {
        let Some(head) = read_head(&mut reader)? else {
            return Ok(());
        };
        if head.header("transfer-encoding").is_some() {
            shared.problem(format!("a chunked request body: {}", head.start));
            return Ok(());
        }
        let mut body = vec![0; usize::try_from(head.content_length()?.unwrap_or(0)).unwrap()];
        reader.read_exact(&mut body)?;
        let request = Request { head, body };

        let client_closes = request.head.has_token("connection", "close");
        let keep_alive = match (shared.rule)(&request) {
            Action::Forward => forward(&request, shared.upstream, &[], &mut writer)?,
            Action::ForwardSetting(set) => forward(&request, shared.upstream, &set, &mut writer)?,
            Action::Answer(response) => {
                response.write_to(&mut writer)?;
                true
            }
        };
        writer.flush()?;
        if client_closes || !keep_alive {
            return Ok(());
        }
    }
    Ok(())
}

fn connection_close() -> (String, String) {
    ("connection".to_owned(), "close".to_owned())
}

/// Sends one request upstream on a connection of its own and relays the response as it
/// comes, with `set` laid over its headers. Returns whether the client connection can carry
/// another request.
fn forward(
    request: &Request,
    upstream: SocketAddr,
    set: &[(String, String)],
    client: &mut impl Write,
) -> io::Result<bool> {
    let connection = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))?;
    connection.set_read_timeout(Some(IDLE))?;
    connection.set_write_timeout(Some(IDLE))?;
    let mut sending = connection.try_clone()?;
    sending.write_all(&request.head.forwarded(&[connection_close()]))?;
    sending.write_all(&request.body)?;
    sending.flush()?;

    let mut reader = BufReader::new(connection);
    let response = read_head(&mut reader)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "upstream closed without answering",
        )
    })?;
    let status: u16 = response
        .start
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "a bad status line"))?;
    if (100..200).contains(&status) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an interim response upstream: {}", response.start),
        ));
    }
    let no_body = request.method() == "HEAD" || status == 204 || status == 304;
    if no_body {
        client.write_all(&response.forwarded(set))?;
        return Ok(true);
    }
    if response.has_token("transfer-encoding", "chunked") {
        // Chunked framing ends the body by itself; upstream closes after it.
        client.write_all(&response.forwarded(set))?;
        io::copy(&mut reader, client)?;
        return Ok(true);
    }
    if let Some(length) = response.content_length()? {
        client.write_all(&response.forwarded(set))?;
        let copied = io::copy(&mut (&mut reader).take(length), client)?;
        if copied != length {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "upstream closed inside the body",
            ));
        }
        return Ok(true);
    }
    // The body ends where upstream closes, so the client connection must end there too.
    let mut closing = set.to_vec();
    closing.push(connection_close());
    client.write_all(&response.forwarded(&closing))?;
    io::copy(&mut reader, client)?;
    Ok(false)
}
