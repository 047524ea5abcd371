//! A minimal HTTP/1.1 client for the REST door: `GET` with a bearer token on
//! one kept-alive connection, bodies framed by `Content-Length` or chunked.
//! Enough for paging `GET /api/topics/{topic}/events`; no TLS, no redirects.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One kept-alive connection to `host:port`.
pub struct Http {
    addr: String,
    conn: Option<BufReader<TcpStream>>,
}

/// A response: status and body.
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

impl Http {
    /// A client for `addr` (`host:port`); connects on first use.
    pub fn new(addr: &str) -> Http {
        Http {
            addr: addr.to_string(),
            conn: None,
        }
    }

    /// `GET path` with `Authorization: Bearer token`.
    pub async fn get(&mut self, path: &str, token: &str) -> std::io::Result<Response> {
        if self.conn.is_none() {
            let s = TcpStream::connect(&self.addr).await?;
            s.set_nodelay(true)?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, s));
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(bad("no connection"));
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Accept: application/json\r\n\r\n",
            self.addr
        );
        conn.get_mut().write_all(req.as_bytes()).await?;
        let (status, length, chunked, close) = read_head(conn).await?;
        let body = if chunked {
            read_chunked(conn).await?
        } else if let Some(n) = length {
            let mut b = vec![0; n];
            conn.read_exact(&mut b).await?;
            b
        } else {
            let mut b = Vec::new();
            conn.read_to_end(&mut b).await?;
            self.conn = None;
            return Ok(Response { status, body: b });
        };
        if close {
            self.conn = None;
        }
        Ok(Response { status, body })
    }
}

/// Status line and headers: (status, content length, chunked, connection close).
async fn read_head(
    conn: &mut BufReader<TcpStream>,
) -> std::io::Result<(u16, Option<usize>, bool, bool)> {
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed in the headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().ok(),
            "transfer-encoding" => chunked = value.contains("chunked"),
            "connection" => close = value.contains("close"),
            _ => {}
        }
    }
    Ok((status, length, chunked, close))
}

async fn read_chunked(conn: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, then the empty line.
            loop {
                line.clear();
                if conn.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let at = body.len();
        body.resize(at + size, 0);
        conn.read_exact(&mut body[at..]).await?;
        let mut crlf = [0u8; 2];
        conn.read_exact(&mut crlf).await?;
    }
}

/// Percent-encodes `s` as one path segment (everything but unreserved characters).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn topics_become_one_segment() {
        assert_eq!(
            super::segment("biz/b1/chat/gen-1"),
            "biz%2Fb1%2Fchat%2Fgen-1"
        );
    }
}
