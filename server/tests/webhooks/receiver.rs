//! A real HTTP receiver for webhook deliveries: it records every request
//! (path, headers, raw body) and answers with the statuses scripted for its
//! path (then 200). One request per connection.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A scripted answer that is no answer: the connection is held until the
/// sender gives up.
pub const HANG: u16 = 0;

/// One request as it arrived, and what it was answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn event_id(&self) -> String {
        self.header("goonline-event-id").to_string()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: HashMap<String, VecDeque<u16>>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, s.clone()));
            }
        });
        Receiver { addr, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next answers to requests for `path` (then 200 again).
    pub fn script(&self, path: &str, statuses: &[u16]) {
        let mut s = self.state.lock().expect("state");
        s.script
            .entry(path.to_string())
            .or_default()
            .extend(statuses);
    }

    /// Every request for `path` so far, in arrival order.
    pub fn received(&self, path: &str) -> Vec<Received> {
        let s = self.state.lock().expect("state");
        s.received
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits up to `within` for `done(requests for path)`.
    pub async fn until(
        &self,
        path: &str,
        within: Duration,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let end = Instant::now() + within;
        loop {
            let got = self.received(path);
            if done(&got) {
                return got;
            }
            if Instant::now() > end {
                panic!(
                    "{path}: the expected requests did not arrive within {within:?}; got {:#?}",
                    got.iter()
                        .map(|r| (r.event_id(), r.answered))
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Reads one request, records it, answers it.
async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("")
        .to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let answer = {
        let mut s = state.lock().expect("state");
        let answer = s
            .script
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or(200);
        s.received.push(Received {
            path,
            headers,
            body,
            answered: answer,
        });
        answer
    };
    if answer == HANG {
        tokio::time::sleep(Duration::from_secs(30)).await;
        return;
    }
    let text = if (200..300).contains(&answer) {
        "thanks"
    } else {
        "boom: try later"
    };
    let reply = format!(
        "HTTP/1.1 {answer} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}
