//! The HTTP side of a delivery: which URLs an endpoint may have, and one
//! POST with its outcome (status, error, duration, a short excerpt of the
//! answer).
//!
//! Redirects are not followed (a 3xx is a failed attempt: the endpoint's URL
//! should be the final one), no proxy is used, and with
//! (unless `--webhook-allow-private-addresses`) every address a host name resolves to
//! is checked at connect time, so a name cannot be pointed at an internal
//! service after the endpoint was accepted.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::HeaderMap;

use super::Settings;

/// Longest endpoint URL.
pub(super) const MAX_URL_CHARS: usize = 2048;

/// Bytes of an answer read for its excerpt.
const EXCERPT_BYTES: usize = 1024;

/// Characters of an answer kept in the log.
const EXCERPT_CHARS: usize = 256;

/// What the `User-Agent` of a delivery says.
const USER_AGENT: &str = concat!("GoOnline-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Checks an endpoint URL: absolute `http`/`https`, at most 2048 characters,
/// no credentials, and (with `block_private`) not a loopback, private or
/// other non-public address. Returns it normalized (as it will be requested).
pub(super) fn check_url(raw: &str, block_private: bool) -> Result<String, String> {
    let n = raw.chars().count();
    if n > MAX_URL_CHARS {
        return Err(format!(
            "must be at most {MAX_URL_CHARS} characters, got {n}"
        ));
    }
    let url = Url::parse(raw.trim())
        .map_err(|_| "must be an absolute http or https URL, like https://example.com/hooks")?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "must be an http or https URL, not `{}:`",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not contain credentials: deliveries are authenticated by their signature".into(),
        );
    }
    let Some(host) = url.host_str() else {
        return Err("must name a host".into());
    };
    if block_private {
        // (An IPv6 host comes in brackets.)
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let refused = match bare.parse::<IpAddr>() {
            Ok(ip) => !is_public(ip),
            Err(_) => {
                let d = host.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
        };
        if refused {
            return Err(
                "must not point at a loopback, private or other non-public address on this server"
                    .into(),
            );
        }
    }
    Ok(url.to_string())
}

/// Whether `ip` is a public unicast address.
pub(super) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
}

/// Resolves host names to their public addresses only.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("`{host}` resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one attempt got.
#[derive(Debug, Clone)]
pub(super) struct Outcome {
    /// The answer's status, if one came.
    pub status_code: Option<u16>,
    /// Why no answer came (or why it could not be sent).
    pub error: Option<String>,
    /// From sending to the end of the excerpt.
    pub duration: Duration,
    /// The answer's first characters.
    pub excerpt: Option<String>,
}

impl Outcome {
    /// A 2xx answer.
    pub fn succeeded(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }

    /// An attempt that could not even start.
    pub fn refused(error: String) -> Outcome {
        Outcome {
            status_code: None,
            error: Some(error),
            duration: Duration::ZERO,
            excerpt: None,
        }
    }
}

/// The delivery client.
pub(super) struct Client {
    http: reqwest::Client,
    timeout: Duration,
    block_private: bool,
}

impl Client {
    pub fn new(settings: &Settings) -> Result<Client, reqwest::Error> {
        let mut b = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if settings.block_private {
            b = b.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Client {
            http: b.build()?,
            timeout: settings.timeout,
            block_private: settings.block_private,
        })
    }

    /// POSTs `body` to `url` with `headers`.
    pub async fn post(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Outcome {
        // Checked again: the endpoint may predate the server's refusal of private addresses.
        let url = match check_url(url, self.block_private) {
            Ok(u) => u,
            Err(why) => return Outcome::refused(format!("not sent: the URL {why}")),
        };
        let start = Instant::now();
        let sent = self.http.post(url).headers(headers).body(body).send().await;
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Outcome {
                    status_code: None,
                    error: Some(self.describe(&e)),
                    duration: start.elapsed(),
                    excerpt: None,
                };
            }
        };
        let status = resp.status().as_u16();
        let mut bytes = Vec::new();
        // The answer's start only; the rest is never read (the connection is
        // dropped with it).
        while bytes.len() < EXCERPT_BYTES {
            match resp.chunk().await {
                Ok(Some(c)) => bytes.extend_from_slice(&c),
                Ok(None) | Err(_) => break,
            }
        }
        Outcome {
            status_code: Some(status),
            error: None,
            duration: start.elapsed(),
            excerpt: excerpt(&bytes),
        }
    }

    /// A short cause for a request that got no answer.
    fn describe(&self, e: &reqwest::Error) -> String {
        if e.is_timeout() {
            return format!("no answer within {} s", self.timeout.as_secs());
        }
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        let what = if e.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        let text: String = format!("{what}: {cause}").chars().take(300).collect();
        text
    }
}

/// Up to 256 characters of `bytes` as text, without control characters
/// (line breaks and tabs kept); `None` for an empty answer.
fn excerpt(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_BYTES)]);
    let kept: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .take(EXCERPT_CHARS)
        .collect();
    (!kept.is_empty()).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_without_credentials() {
        assert_eq!(
            check_url("https://example.com/hooks?x=1", false).as_deref(),
            Ok("https://example.com/hooks?x=1")
        );
        assert!(check_url("http://127.0.0.1:8080/h", false).is_ok());
        for bad in [
            "ftp://example.com/",
            "example.com/hooks",
            "https://u:p@example.com/",
            "",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(check_url(&long, false).is_err());
    }

    #[test]
    fn blocking_refuses_non_public_addresses_only() {
        for bad in [
            "http://127.0.0.1/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:192.168.1.1]/",
            "http://localhost:8080/",
            "http://api.localhost/",
            "http://100.64.0.1/",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
            assert!(check_url(bad, false).is_ok(), "{bad}");
        }
        for good in [
            "https://93.184.215.14/",
            "https://[2606:4700::1111]/",
            "https://example.com/",
        ] {
            assert!(check_url(good, true).is_ok(), "{good}");
        }
    }

    #[test]
    fn excerpts_are_short_printable_text() {
        assert_eq!(excerpt(b""), None);
        assert_eq!(excerpt(b"ok\0\x07!").as_deref(), Some("ok!"));
        assert_eq!(excerpt(&[b'x'; 5000]).map(|s| s.len()), Some(EXCERPT_CHARS));
    }
}
