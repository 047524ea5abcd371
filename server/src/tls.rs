//! HTTPS and WSS without a proxy: `--tls-cert`/`--tls-key` put rustls on the
//! listening port, so every route (REST, the three WebSocket dialects, health,
//! metrics) is served over TLS, for single-node deployments without an ingress.
//!
//! [`load`] reads the PEM files once at start-up and refuses to start with a
//! message naming the file at fault. [`TlsListener`] hands axum only finished
//! handshakes: each runs in a task of its own under a deadline, so a client that
//! stalls (slowloris) or speaks something else delays nobody else's connection.
//! A failed handshake is a client's problem, logged at debug level.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig, SupportedProtocolVersion};
use tokio_rustls::server::TlsStream;

use crate::config::{TlsArgs, TlsVersion};

/// Time a client has to complete its handshake once connected.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshakes in progress at once; past this, new connections wait in the
/// kernel's accept queue until some finish (or time out).
const MAX_PENDING_HANDSHAKES: usize = 1024;

/// The first byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Why the TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// One of `--tls-cert` and `--tls-key` without the other.
    #[error("--tls-cert and --tls-key go together: {0} is missing")]
    Incomplete(&'static str),
    /// A file cannot be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        /// Which file: "certificate" or "private key".
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file is not the PEM it should be.
    #[error("{} is not a PEM {what} file: {reason}", path.display())]
    Pem {
        /// "certificate" or "private key".
        what: &'static str,
        /// The path given.
        path: PathBuf,
        /// What the PEM parser found.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not belong to the certificate).
    #[error("cannot use certificate {} with key {}: {source}", cert.display(), key.display())]
    Rejected {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

/// The acceptor `--tls-cert`/`--tls-key` describe, or `None` without them.
pub fn load(args: &TlsArgs) -> Result<Option<TlsAcceptor>, TlsError> {
    let (cert_path, key_path) = match (&args.tls_cert, &args.tls_key) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(TlsError::Incomplete("--tls-key")),
        (None, Some(_)) => return Err(TlsError::Incomplete("--tls-cert")),
        (Some(c), Some(k)) => (c, k),
    };
    let certs = read_certs(cert_path)?;
    let key = read_key(key_path)?;
    let versions: &[&SupportedProtocolVersion] = match args.tls_min_version {
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let rejected = |source| TlsError::Rejected {
        cert: cert_path.clone(),
        key: key_path.clone(),
        source,
    };
    // The provider is named rather than taken from the process default, which
    // is ambiguous when more than one is compiled in.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(rejected)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(rejected)?;
    // WebSockets upgrade over HTTP/1.1; HTTP/2 is not served.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Some(TlsAcceptor::from(Arc::new(config))))
}

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "certificate";
    let pem = read_file(WHAT, path)?;
    let bad = |reason: String| TlsError::Pem {
        what: WHAT,
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE section found".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    const WHAT: &str = "private key";
    let pem = read_file(WHAT, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Pem {
        what: WHAT,
        path: path.to_path_buf(),
        reason: match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PRIVATE KEY section found".into(),
            other => other.to_string(),
        },
    })
}

/// A listener that yields TLS streams whose handshake completed. Dropping it
/// (when the server stops accepting) abandons the handshakes in progress.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        TlsListener {
            tcp,
            acceptor,
            handshakes: JoinSet::new(),
        }
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Cancel-safe, as axum needs: an accepted socket is in `handshakes` before
    // this future can be dropped, and `join_next` loses nothing when dropped.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let room = self.handshakes.len() < MAX_PENDING_HANDSHAKES;
            tokio::select! {
                // axum's accept logs and retries on errors (e.g. out of file handles).
                (tcp, addr) = Listener::accept(&mut self.tcp), if room => {
                    // Small real-time frames must not wait for Nagle.
                    let _ = tcp.set_nodelay(true);
                    self.handshakes.spawn(handshake(self.acceptor.clone(), tcp, addr));
                }
                Some(done) = self.handshakes.join_next() => {
                    if let Ok(Some(conn)) = done {
                        return conn;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// One handshake under [`HANDSHAKE_TIMEOUT`]; `None` when it failed (logged).
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    addr: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    let outcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut first = [0u8; 1];
        tcp.peek(&mut first).await?;
        if first[0] != TLS_HANDSHAKE_RECORD && first[0].is_ascii_uppercase() {
            // Most likely an `http://` URL pointed at this port: say so rather
            // than leave the client with a protocol error it cannot explain.
            plain_http_refusal(tcp).await;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "plain HTTP on the TLS port",
            ));
        }
        acceptor.accept(tcp).await
    })
    .await;
    match outcome {
        Ok(Ok(tls)) => Some((tls, addr)),
        Ok(Err(e)) => {
            tracing::debug!(%addr, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%addr, "TLS handshake timed out");
            None
        }
    }
}

/// Answers a plain HTTP request with 400 and a hint, then closes.
async fn plain_http_refusal(mut tcp: TcpStream) {
    const BODY: &str = "This port serves HTTPS: use https:// (wss:// for WebSockets).\n";
    // Take the request off the socket first: closing with unread data would
    // reset the connection and could discard the answer.
    let mut request = [0u8; 4096];
    let _ = tcp.try_read(&mut request);
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tcp.write_all(response.as_bytes()).await;
    let _ = tcp.shutdown().await;
}
