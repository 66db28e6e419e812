//! Starting the real `vivacampo` binary and talking HTTP/1.1 to it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use serde_json::Value;

/// A running `vivacampo` process.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every line it wrote to stdout (its log) so far.
    pub log: Arc<Mutex<Vec<String>>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_vivacampo")
}

/// A fresh temporary directory.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vivacampo-e2e-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command for the binary with a clean configuration: only what the test sets. Weather is
/// off (tests have no internet; the weather tests pass `--weather-source`).
pub fn command(data_dir: &Path, database_url: Option<&str>) -> Command {
    let mut cmd = Command::new(binary());
    for (key, _) in std::env::vars() {
        if key.starts_with("VIVACAMPO_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(data_dir)
        .env("VIVACAMPO_DATA_DIR", data_dir)
        .env("VIVACAMPO_LOG", "info")
        .env("VIVACAMPO_WEATHER_SOURCE", "off");
    if let Some(url) = database_url {
        cmd.env("VIVACAMPO_DATABASE_URL", url);
    }
    cmd
}

impl Server {
    /// Starts `cmd` (which must serve HTTP on `--bind 127.0.0.1:0`) and waits until it listens.
    pub fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .arg("--bind")
            .arg("127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vivacampo");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line.clone());
                if !sent && line.contains("listening on http://") {
                    let log: Value = serde_json::from_str(&line).unwrap_or_default();
                    if let Some(addr) = log["address"].as_str() {
                        let _ = tx.send(addr.parse::<SocketAddr>().unwrap());
                        sent = true;
                    }
                }
                if std::env::var_os("VIVACAMPO_E2E_ECHO").is_some() {
                    eprintln!("[server] {line}");
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("vivacampo did not start listening within 60 s");
        Server { child, addr, log }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        terminate(&self.child);
        wait_with_timeout(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped, so a failing test never leaves it running (an orphan
/// holding the test's stderr would keep the test runner waiting).
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
}

pub fn wait_with_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP answer.
pub struct Reply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value, or "" when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`).
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request(addr, method, path, &headers, body)
}

/// [`http`] with any request headers.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    request_from(None, addr, method, path, headers, body)
}

/// A connection to `addr` from the local address `from` (e.g. 127.0.0.2, another loopback
/// client), or from whatever the system picks.
fn connect_from(from: Option<IpAddr>, addr: SocketAddr) -> TcpStream {
    let Some(ip) = from else {
        return TcpStream::connect(addr).expect("connect");
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(ip, 0))
            .expect("bind the local address");
        socket.connect(addr).await.expect("connect")
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// [`request`] from the local address `from`.
pub fn request_from(
    from: Option<IpAddr>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut stream = connect_from(from, addr);
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let body_text = body.map(Value::to_string).unwrap_or_default();
    let mut message = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        message.push_str(&format!("{name}: {value}\r\n"));
    }
    if body.is_some() {
        message.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body_text.len()
        ));
    }
    message.push_str("\r\n");
    message.push_str(&body_text);
    stream.write_all(message.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// Polls a field's processed weeks (`GET /v1/aois/{id}/weeks`) until `done` holds for them;
/// returns them, or panics after `limit`.
pub fn wait_for_weeks(
    addr: SocketAddr,
    token: &str,
    field: &str,
    limit: Duration,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let weeks = http(
            addr,
            "GET",
            &format!("/v1/aois/{field}/weeks"),
            Some(token),
            None,
        )
        .json();
        let items = weeks["items"].as_array().cloned().unwrap_or_default();
        if done(&items) {
            return items;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "weeks of {field} not processed: {weeks}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Signs in and returns the token.
pub fn login(addr: SocketAddr, email: &str, password: &str) -> String {
    let reply = http(
        addr,
        "POST",
        "/v1/auth/login",
        None,
        Some(&serde_json::json!({"email": email, "password": password})),
    );
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["token"].as_str().unwrap().to_owned()
}
