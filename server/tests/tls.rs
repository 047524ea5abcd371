//! TLS with `--tls-cert`/`--tls-key`: one port serves HTTPS and WSS (native,
//! Hocuspocus and y-websocket sockets, REST, health, metrics) to clients that
//! trust a test CA made here; plain HTTP, garbage and stalled handshakes on that
//! port fail on their own while others are served; TLS 1.2 is refused unless
//! `--tls-min-version 1.2`; unusable certificate files stop the start with a
//! message naming the file; a drain closes WSS sockets with 1001.
//!
//! TLS does not touch the database, so these run on SQLite only.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{Dialect, Peer, TestServer, WAIT};
use futures_util::StreamExt;
use goonline_engine::testing::TestDb;
use goonline_protocol::codes::close;
use goonline_server::config::{ServeArgs, TlsVersion};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio_tungstenite::Connector;

const TLS13_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

/// A test CA and a server certificate it signed for 127.0.0.1 and localhost,
/// written as PEM files into a directory of their own.
struct TestPki {
    dir: PathBuf,
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
}

impl TestPki {
    fn new() -> TestPki {
        let dir =
            std::env::temp_dir().join(format!("goonline-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("pki dir");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "GoOnline test CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("ca key"))
            .expect("ca cert");
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
            .expect("leaf params");
        leaf.distinguished_name
            .push(DnType::CommonName, "goonline test server");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("leaf key");
        let cert = leaf.signed_by(&key, &ca).expect("leaf cert");
        let pki = TestPki {
            ca_pem: ca.pem(),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
            dir,
        };
        std::fs::write(&pki.cert, cert.pem()).expect("write cert");
        std::fs::write(&pki.key, key.serialize_pem()).expect("write key");
        pki
    }

    /// A file in the PKI's directory holding `text`.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// A client configuration trusting only the test CA, with `versions`.
    fn client(&self, versions: &[&'static SupportedProtocolVersion]) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        let ca = rustls::pki_types::CertificateDer::from_pem_slice(self.ca_pem.as_bytes())
            .expect("ca pem");
        roots.add(ca).expect("trust the test CA");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// An HTTPS client trusting only the test CA.
    fn https(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("ca");
        reqwest::Client::builder()
            .tls_certs_only([ca])
            .timeout(WAIT)
            .build()
            .expect("https client")
    }

    /// `args` serving TLS with this PKI's certificate.
    fn serve(&self, args: &mut ServeArgs) {
        args.tls.tls_cert = Some(self.cert.clone());
        args.tls.tls_key = Some(self.key.clone());
    }
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_server(pki: &TestPki, tweak: impl FnOnce(&mut ServeArgs)) -> TestServer {
    TestServer::start(TestDb::sqlite(), |a| {
        pki.serve(a);
        tweak(a);
    })
    .await
}

/// A WebSocket over TLS to `path`, trusting the test CA.
async fn wss(pki: &TestPki, addr: SocketAddr, path: &str, dialect: Dialect) -> Peer {
    let url = format!("wss://127.0.0.1:{}{path}", addr.port());
    let connector = Connector::Rustls(pki.client(TLS13_ONLY));
    let (ws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(connector))
            .await
            .expect("wss connect");
    Peer::over(ws, dialect)
}

/// A TLS handshake with `config`: the negotiated version and ALPN, or the error.
async fn handshake(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<(rustls::ProtocolVersion, Option<Vec<u8>>), std::io::Error> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let tls = TlsConnector::from(config).connect(name, tcp).await?;
    let (_, conn) = tls.get_ref();
    let version = conn.protocol_version().expect("version");
    Ok((version, conn.alpn_protocol().map(<[u8]>::to_vec)))
}

async fn healthy(pki: &TestPki, addr: SocketAddr) -> bool {
    match pki
        .https()
        .get(format!("https://127.0.0.1:{}/healthz", addr.port()))
        .send()
        .await
    {
        Ok(r) => r.status() == 200,
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_served_over_tls_and_a_drain_closes_wss_sockets_with_1001() {
    let pki = TestPki::new();
    let server = tls_server(&pki, |_| {}).await;
    let addr = server.addr;

    // Native protocol over WSS: open, edit, acknowledged; a second client sees it.
    let mut writer = wss(&pki, addr, "/v1/ws", Dialect::Native).await;
    writer.hello(None).await;
    writer.open("tls-notes").await;
    assert!(
        writer
            .until(WAIT, |p| p.synced.get("tls-notes") == Some(&true))
            .await
    );
    let id = writer.append_text("tls-notes", "sent over TLS").await;
    assert!(
        writer.until(WAIT, |p| p.acks.contains(&id)).await,
        "acknowledged"
    );
    let mut reader = wss(&pki, addr, "/hocuspocus", Dialect::Hocuspocus).await;
    reader.open("tls-notes").await;
    assert!(
        reader
            .until(WAIT, |p| p.text("tls-notes") == "sent over TLS")
            .await,
        "a Hocuspocus client over WSS reads it"
    );
    // y-websocket: the server greets with its sync step 1.
    let url = format!("wss://127.0.0.1:{}/y/tls-notes", addr.port());
    let connector = Connector::Rustls(pki.client(TLS13_ONLY));
    let (mut yws, _) =
        tokio_tungstenite::connect_async_tls_with_config(url, None, true, Some(connector))
            .await
            .expect("y-websocket over wss");
    let first = tokio::time::timeout(WAIT, yws.next())
        .await
        .expect("greeting in time");
    assert!(
        matches!(first, Some(Ok(m)) if m.is_binary()),
        "y-websocket greeting"
    );

    // HTTPS: health, metrics, the API; HSTS since clients reach us over TLS.
    let https = pki.https();
    for path in ["/healthz", "/readyz", "/metrics", "/api/openapi.json"] {
        let r = https
            .get(format!("https://127.0.0.1:{}{path}", addr.port()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(r.status(), 200, "GET {path}");
        assert!(
            r.headers().contains_key("strict-transport-security"),
            "GET {path} carries HSTS"
        );
    }

    // Graceful drain over TLS: the open sockets get going-away.
    let stopping = tokio::spawn(server.stop());
    assert_eq!(
        writer.closed_with(Duration::from_secs(30)).await,
        Some(close::GOING_AWAY)
    );
    assert!(stopping.await.expect("stop task"), "everything flushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_garbage_and_stalled_handshakes_fail_alone() {
    let pki = TestPki::new();
    let server = tls_server(&pki, |_| {}).await;
    let addr = server.addr;

    // A client that connects and says nothing holds no one up.
    let _silent = TcpStream::connect(addr).await.expect("connect");
    assert!(
        healthy(&pki, addr).await,
        "served beside a stalled handshake"
    );

    // Plain HTTP gets a 400 that says what to do, then the connection closes.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, plain.read_to_end(&mut answer))
        .await
        .expect("closed in time")
        .expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(answer.contains("https://"), "{answer}");

    // Bytes that are neither TLS nor HTTP: the connection just closes.
    let mut junk = TcpStream::connect(addr).await.expect("connect");
    junk.write_all(&[0x00, 0xff, 0x13, 0x37, 0x00, 0x00, 0x00, 0x01])
        .await
        .expect("write");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(WAIT, junk.read_to_end(&mut rest))
        .await
        .expect("closed in time");

    // A plain WebSocket client fails cleanly too.
    let ws = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{addr}/v1/ws")),
    )
    .await
    .expect("answered in time");
    assert!(ws.is_err(), "ws:// to a TLS port is refused");

    assert!(healthy(&pki, addr).await, "still serving afterwards");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_3_only_by_default_and_1_2_when_allowed() {
    let pki = TestPki::new();
    let server = tls_server(&pki, |_| {}).await;
    let (version, alpn) = handshake(server.addr, pki.client(TLS13_ONLY))
        .await
        .expect("TLS 1.3 handshake");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]), "ALPN http/1.1");
    let refused = handshake(server.addr, pki.client(TLS12_ONLY)).await;
    assert!(
        refused.is_err(),
        "a TLS 1.2-only client is refused by default"
    );
    assert!(healthy(&pki, server.addr).await);
    server.stop().await;

    let server = tls_server(&pki, |a| a.tls.tls_min_version = TlsVersion::Tls12).await;
    let (version, _) = handshake(server.addr, pki.client(TLS12_ONLY))
        .await
        .expect("TLS 1.2 allowed with --tls-min-version 1.2");
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    server.stop().await;
}

/// The start-up error for `tweak`ed TLS flags.
async fn startup_error(tweak: impl FnOnce(&mut ServeArgs)) -> String {
    let db = TestDb::sqlite();
    let mut args = ServeArgs::defaults();
    args.listen = "127.0.0.1:0".parse().expect("addr");
    args.database_url = Some(db.url.clone());
    tweak(&mut args);
    match goonline_server::start(&args, std::future::pending()).await {
        Ok(_) => panic!("started with bad TLS flags"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusable_certificate_files_stop_the_start_with_a_clear_message() {
    let pki = TestPki::new();
    let garbage = pki.file("garbage.key", "this is not a key\n");
    let e = startup_error(|a| {
        a.tls.tls_cert = Some(pki.cert.clone());
        a.tls.tls_key = Some(garbage.clone());
    })
    .await;
    assert!(
        e.contains("garbage.key") && e.contains("not a PEM private key"),
        "{e}"
    );

    let e = startup_error(|a| {
        a.tls.tls_cert = Some(pki.key.clone());
        a.tls.tls_key = Some(pki.key.clone());
    })
    .await;
    assert!(
        e.contains("server.key") && e.contains("not a PEM certificate"),
        "{e}"
    );

    let e = startup_error(|a| {
        a.tls.tls_cert = Some(pki.dir.join("missing.crt"));
        a.tls.tls_key = Some(pki.key.clone());
    })
    .await;
    assert!(
        e.contains("cannot read certificate") && e.contains("missing.crt"),
        "{e}"
    );

    let e = startup_error(|a| a.tls.tls_cert = Some(pki.cert.clone())).await;
    assert!(e.contains("--tls-key is missing"), "{e}");

    // A key of another certificate.
    let other = pki.file(
        "other.key",
        &KeyPair::generate().expect("key").serialize_pem(),
    );
    let e = startup_error(|a| {
        a.tls.tls_cert = Some(pki.cert.clone());
        a.tls.tls_key = Some(other.clone());
    })
    .await;
    assert!(e.contains("cannot use certificate"), "{e}");

    // The binary: a non-zero exit and the reason on stderr, before listening.
    let data = pki.dir.join("data");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_goonline"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--tls-cert")
        .arg(&pki.cert)
        .arg("--tls-key")
        .arg(&garbage)
        .output()
        .await
        .expect("run goonline");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a PEM private key"), "{stderr}");
    assert!(out.stdout.is_empty(), "never listened");
    // One of the pair alone is refused by the flag parser.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_goonline"))
        .args(["serve", "--tls-cert"])
        .arg(&pki.cert)
        .output()
        .await
        .expect("run goonline");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
}
