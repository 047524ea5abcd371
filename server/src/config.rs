//! Command-line flags with `GOONLINE_*` environment fallbacks: the one place the
//! server's configuration is defined. A fresh start needs none of them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use goonline_engine::EngineConfig;
use goonline_engine::ops::params::{Email, Text};
use goonline_engine::topics::Retention;

/// GoOnline: a real-time collaboration engine.
#[derive(Debug, Parser)]
#[command(name = "goonline", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Manage accounts from the command line.
    User(UserArgs),
    /// Copy the SQLite database to a file, consistently, while a server runs on it.
    Backup(crate::backup::BackupArgs),
    /// Put a backup made by `goonline backup` in place of the SQLite database
    /// (the server on it must be stopped).
    Restore(crate::backup::RestoreArgs),
}

/// Flags for `goonline user`.
#[derive(Debug, clap::Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: UserCommand,
}

/// `goonline user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print its id (with `--platform-admin` on an existing
    /// email: promote that account).
    Create(UserCreateArgs),
}

/// Flags for `goonline user create`.
#[derive(Debug, Clone, clap::Args)]
pub struct UserCreateArgs {
    /// The account's email.
    #[arg(long, value_parser = |s: &str| Email::parse(s))]
    pub email: Email,
    /// Its display name (default: the part of the email before `@`).
    #[arg(long, value_parser = |s: &str| Text::<1, 100>::parse(s))]
    pub name: Option<Text<1, 100>>,
    /// Make it a platform admin (or promote the existing account).
    #[arg(long)]
    pub platform_admin: bool,
    /// Read the password from the first line of stdin; otherwise one is generated
    /// and printed once.
    #[arg(long)]
    pub password_stdin: bool,
    /// Directory of the embedded SQLite database (as for `serve`).
    #[arg(long, env = "GOONLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL (as for `serve`); default: SQLite in the data dir.
    #[arg(long, env = "GOONLINE_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl UserCreateArgs {
    /// The database URL to use, exactly as `serve` would.
    pub fn database_url(&self) -> String {
        database_url(&self.data_dir, self.database_url.as_deref())
    }
}

/// The flag's URL, or SQLite under `data_dir`.
pub(crate) fn database_url(data_dir: &std::path::Path, flag: Option<&str>) -> String {
    match flag {
        Some(url) => url.to_string(),
        None => format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("goonline.db").display()
        ),
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Flags for `goonline serve`.
#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "GOONLINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database (created if missing).
    #[arg(long, env = "GOONLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL (`postgres://...` or `sqlite://...`); default: SQLite in the data dir.
    #[arg(long, env = "GOONLINE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, env = "GOONLINE_MAX_FRAME_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Largest document kept, in bytes of encoded state.
    #[arg(long, env = "GOONLINE_MAX_DOC_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_doc_bytes: usize,
    /// Most documents open on one connection.
    #[arg(long, env = "GOONLINE_MAX_OPEN_DOCS", default_value_t = 256)]
    pub max_open_docs: usize,
    /// Most connections at once (the process's open-files limit also applies).
    #[arg(long, env = "GOONLINE_MAX_CONNECTIONS", default_value_t = 19_000)]
    pub max_connections: usize,
    /// Outbound queue per connection, in messages; a client that falls this far
    /// behind is closed with 4429.
    #[arg(long, env = "GOONLINE_SESSION_QUEUE", default_value_t = 1024)]
    pub session_queue: usize,
    /// Snapshot a document after this many logged updates.
    #[arg(long, env = "GOONLINE_SNAPSHOT_EVERY_UPDATES", default_value_t = 500)]
    pub snapshot_every_updates: u64,
    /// ... or after this many logged bytes.
    #[arg(long, env = "GOONLINE_SNAPSHOT_EVERY_BYTES", default_value_t = 1024 * 1024)]
    pub snapshot_every_bytes: u64,
    /// Evict a document this many seconds after its last session left.
    #[arg(long, env = "GOONLINE_ROOM_IDLE_SECS", default_value_t = 30)]
    pub room_idle_secs: u64,
    /// Group commits start at most once per this many ms (updates arriving
    /// meanwhile share the transaction; an isolated update is not delayed).
    #[arg(long, env = "GOONLINE_COMMIT_INTERVAL_MS", default_value_t = 10)]
    pub commit_interval_ms: u64,
    /// A document relays awareness (presence) at most once per this many ms.
    #[arg(long, env = "GOONLINE_AWARENESS_COALESCE_MS", default_value_t = 50)]
    pub awareness_coalesce_ms: u64,
    /// Server heartbeat interval in seconds; silent connections close after three.
    #[arg(long, env = "GOONLINE_HEARTBEAT_SECS", default_value_t = 15)]
    pub heartbeat_secs: u64,
    /// Seconds a write to one client may block before it is closed as too slow.
    #[arg(long, env = "GOONLINE_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub write_timeout_secs: u64,
    /// Log format.
    #[arg(long, env = "GOONLINE_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Identity, access and protection settings.
    #[command(flatten)]
    pub security: SecurityArgs,
    /// Topic settings.
    #[command(flatten)]
    pub topics: TopicArgs,
    /// Workspaces, versions and webhooks settings.
    #[command(flatten)]
    pub docs: DocArgs,
    /// Serving HTTPS and WSS directly.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Running several nodes together.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Several nodes sharing one Postgres database and one Redis.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Redis URL (`redis://host:6379`): nodes given the same URL, prefix and
    /// database serve the same documents and topics together. Without it the
    /// node runs alone.
    #[arg(long, env = "GOONLINE_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of this cluster's Redis channels and keys (clusters sharing one
    /// Redis need different prefixes).
    #[arg(long, env = "GOONLINE_REDIS_PREFIX", default_value = "goonline")]
    pub redis_prefix: String,
    /// Seconds the Redis connection may be down before `/readyz` reports the
    /// node not ready (it keeps serving and catches up from the store when
    /// Redis is back).
    #[arg(long, env = "GOONLINE_BUS_DOWN_GRACE_SECS", default_value_t = 5)]
    pub bus_down_grace_secs: u64,
    /// Milliseconds between checks of live documents against the store's
    /// newest sequence numbers (finds updates whose bus message was lost).
    #[arg(long, env = "GOONLINE_BUS_AUDIT_MS", default_value_t = 2000)]
    pub bus_audit_ms: u64,
    /// Test hook: drop every Nth document update and topic event received
    /// from the bus, to exercise the catch-up from the store.
    #[arg(long, hide = true)]
    pub bus_fault_drop_every: Option<u32>,
}

/// Workspaces and documents, versions, and outbound webhooks.
#[derive(Debug, Clone, clap::Args)]
pub struct DocArgs {
    // (workspaces) --doc-delete-grace-days ...
    /// Days a deleted document is kept in its business's trash (and may be
    /// undeleted) before it is purged with everything stored for it.
    #[arg(long, env = "GOONLINE_DOC_DELETE_GRACE_DAYS", default_value_t = 30)]
    pub doc_delete_grace_days: u64,
    // (versions) --auto-version-quiet-secs ...
    /// Seconds a document edited since its last version must be quiet before
    /// an automatic version is taken (0: no automatic versions).
    #[arg(long, env = "GOONLINE_AUTO_VERSION_QUIET_SECS", default_value_t = 300)]
    pub auto_version_quiet_secs: u64,
    /// Seconds a business document must be quiet before its `doc.changed`
    /// event is emitted.
    #[arg(long, env = "GOONLINE_DOC_CHANGED_QUIET_SECS", default_value_t = 5)]
    pub doc_changed_quiet_secs: u64,
    /// While edits go on, at most one `doc.changed` per document per this
    /// many seconds.
    #[arg(
        long,
        env = "GOONLINE_DOC_CHANGED_MAX_INTERVAL_SECS",
        default_value_t = 60
    )]
    pub doc_changed_max_interval_secs: u64,
    /// Milliseconds between writes of edit activity (each document's last
    /// edit and size, and who edited what).
    #[arg(long, env = "GOONLINE_ACTIVITY_FLUSH_MS", default_value_t = 1000)]
    pub activity_flush_ms: u64,
    // (webhooks) ...
    /// Delay before the first retry of a failed webhook delivery, in
    /// milliseconds; later retries wait 3, 12, 60, 180, 360, 720, 1440 and
    /// 2880 times this (10 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h
    /// by default), each with ±20% jitter.
    #[arg(long, env = "GOONLINE_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000)]
    pub webhook_retry_base_ms: u64,
    /// Attempts of one delivery (the first and its retries) before it is
    /// marked failed.
    #[arg(long, env = "GOONLINE_WEBHOOK_MAX_ATTEMPTS", default_value_t = 11)]
    pub webhook_max_attempts: u32,
    /// Seconds an endpoint has to answer a delivery before the attempt fails.
    #[arg(long, env = "GOONLINE_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
    /// Webhook deliveries this server sends at once.
    #[arg(long, env = "GOONLINE_WEBHOOK_CONCURRENCY", default_value_t = 8)]
    pub webhook_concurrency: usize,
    /// Allow webhook endpoints on loopback, private, link-local and other
    /// non-public addresses. Off by default: a business owner could otherwise
    /// make the server call internal services (cloud metadata, databases) and
    /// read the answers in the delivery log. For development and tests only.
    #[arg(
        long,
        env = "GOONLINE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES",
        default_value_t = false
    )]
    pub webhook_allow_private_addresses: bool,
    /// Days a finished webhook delivery stays in the delivery log.
    #[arg(long, env = "GOONLINE_WEBHOOK_LOG_KEEP_DAYS", default_value_t = 30)]
    pub webhook_log_keep_days: u64,
}

/// Topics: retention per kind, limits, and the operational metrics feed.
#[derive(Debug, Clone, clap::Args)]
pub struct TopicArgs {
    /// How long a topic kind keeps its events: `KIND=SPEC`, SPEC an age (`30d`,
    /// `12h`, `90m`), a count (`1000`) or both (`1d,1000`); repeat the flag (or
    /// separate with `;` in the variable) for several kinds. Defaults: `chat` and
    /// `dm` 90d (messages themselves are kept), `comments` forever, `metrics`
    /// 1d,1000. A subscriber asking for older events gets a `gap`.
    #[arg(long = "topic-retention", env = "GOONLINE_TOPIC_RETENTION", value_delimiter = ';', value_parser = parse_retention)]
    pub retention: Vec<(String, Retention)>,
    /// Seconds between two passes dropping events past their retention.
    #[arg(
        long = "topic-trim-secs",
        env = "GOONLINE_TOPIC_TRIM_SECS",
        default_value_t = 300
    )]
    pub trim_secs: u64,
    /// Most topic subscriptions one connection may hold.
    #[arg(long, env = "GOONLINE_MAX_SUBSCRIPTIONS", default_value_t = 256)]
    pub max_subscriptions: usize,
    /// Chat messages one user may send per 10 seconds (a burst; refilled evenly).
    #[arg(long, env = "GOONLINE_CHAT_SENDS_PER_10S", default_value_t = 20)]
    pub chat_sends_per_10s: u32,
    /// Chat edits and reactions one user may make per 10 seconds.
    #[arg(long, env = "GOONLINE_CHAT_ACTIONS_PER_10S", default_value_t = 60)]
    pub chat_actions_per_10s: u32,
    /// Seconds between samples of this node's operational metrics published to
    /// `platform/metrics` for platform admins (0: none).
    #[arg(long, env = "GOONLINE_METRICS_FEED_SECS", default_value_t = 5)]
    pub metrics_feed_secs: u64,
}

fn parse_retention(s: &str) -> Result<(String, Retention), String> {
    let (kind, spec) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected KIND=SPEC, e.g. chat=30d"))?;
    if kind.is_empty() {
        return Err(format!("`{s}`: the kind is empty"));
    }
    Ok((kind.to_string(), Retention::parse(spec)?))
}

/// Identity, access and protection: tokens, sign-in, rate limits, HTTP hygiene.
#[derive(Debug, Clone, clap::Args)]
pub struct SecurityArgs {
    /// Secret that signs access tokens (at least 32 bytes). Default: generated on
    /// first start into `<data-dir>/jwt-secret` (owner-only permissions). Nodes
    /// that share a database must share this secret.
    #[arg(long, env = "GOONLINE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of an access token, in seconds.
    #[arg(long, env = "GOONLINE_ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in seconds (each use rotates it).
    #[arg(long, env = "GOONLINE_REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,
    /// Seconds a live socket whose access token expired has to present a new one
    /// before it is closed with 4401.
    #[arg(long, env = "GOONLINE_REAUTH_GRACE_SECS", default_value_t = 30)]
    pub reauth_grace_secs: u64,
    /// Serve documents outside the `biz/` and `user/` namespaces to anyone, without
    /// a token (development and benchmarks only).
    #[arg(long, env = "GOONLINE_ALLOW_ANONYMOUS_DOCS", default_value_t = false)]
    pub allow_anonymous_docs: bool,
    /// Origins allowed to call the API from a browser and to open WebSockets
    /// (comma-separated, e.g. `https://shop.example`); none by default. Requests
    /// without an `Origin` header (native apps, servers) are not affected.
    #[arg(long, env = "GOONLINE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// The URL clients reach this server at (for OpenID Connect redirects), e.g.
    /// `https://api.example.com`. Default: `http://<listen>`.
    #[arg(long, env = "GOONLINE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// OpenID Connect issuer URL (enables "sign in with" that provider).
    #[arg(long, env = "GOONLINE_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    /// OpenID Connect client id.
    #[arg(long, env = "GOONLINE_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// OpenID Connect client secret.
    #[arg(long, env = "GOONLINE_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Sign-in and registration attempts allowed per account per 10 minutes.
    #[arg(
        long,
        env = "GOONLINE_LOGIN_ATTEMPTS_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub login_attempts_per_account: u32,
    /// Sign-in and registration attempts allowed per client IP per 10 minutes.
    #[arg(long, env = "GOONLINE_LOGIN_ATTEMPTS_PER_IP", default_value_t = 50)]
    pub login_attempts_per_ip: u32,
    /// Frames a connection may send per second on average (bursts of twice that):
    /// native connections over it get `error rate_limited` (the frame is dropped),
    /// y-websocket and Hocuspocus connections are closed with 4430.
    #[arg(long, env = "GOONLINE_MAX_FRAMES_PER_SEC", default_value_t = 500)]
    pub max_frames_per_sec: u32,
    /// Most live connections one user may hold on this node.
    #[arg(long, env = "GOONLINE_MAX_CONNECTIONS_PER_USER", default_value_t = 100)]
    pub max_connections_per_user: usize,
    /// Largest REST request body, in bytes.
    #[arg(long, env = "GOONLINE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Hours an idempotency key and its stored outcome are kept.
    #[arg(long, env = "GOONLINE_IDEMPOTENCY_KEEP_HOURS", default_value_t = 24)]
    pub idempotency_keep_hours: u64,
    /// Set when clients reach this server over HTTPS (e.g. behind a TLS proxy): adds
    /// `Strict-Transport-Security` to every response.
    #[arg(long, env = "GOONLINE_TLS", default_value_t = false)]
    pub tls: bool,
}

impl ServeArgs {
    /// The database URL to use: the flag, or SQLite under the data dir.
    pub fn database_url(&self) -> String {
        database_url(&self.data_dir, self.database_url.as_deref())
    }

    /// The engine settings these flags describe.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            max_frame_bytes: self.max_frame_bytes,
            max_doc_bytes: self.max_doc_bytes,
            max_open_docs: self.max_open_docs,
            max_connections: self.max_connections,
            session_queue: self.session_queue.max(16),
            snapshot_every_updates: self.snapshot_every_updates.max(1),
            snapshot_every_bytes: self.snapshot_every_bytes.max(1),
            room_idle_timeout: Duration::from_secs(self.room_idle_secs),
            awareness_coalesce: Duration::from_millis(self.awareness_coalesce_ms),
            commit_interval: Duration::from_millis(self.commit_interval_ms),
            bus_audit_interval: Duration::from_millis(self.cluster.bus_audit_ms.max(50)),
            ..EngineConfig::default()
        }
    }

    /// Defaults, as if no flag were given (for tests).
    pub fn defaults() -> ServeArgs {
        ServeArgs::parse_from(["serve"])
    }
}

/// HTTPS and WSS on the listening port, without a TLS proxy in front.
#[derive(Debug, Clone, clap::Args)]
pub struct TlsArgs {
    /// PEM file with the server's certificate chain, leaf first. With
    /// `--tls-key`, every route (REST, WebSockets, health, metrics) is served
    /// over TLS only.
    #[arg(long, env = "GOONLINE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file with that certificate's private key (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "GOONLINE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Oldest TLS version accepted: `1.3`, or `1.2` for older clients.
    #[arg(
        long,
        env = "GOONLINE_TLS_MIN_VERSION",
        value_enum,
        default_value = "1.3"
    )]
    pub tls_min_version: TlsVersion,
}

impl TlsArgs {
    /// Whether a certificate or key was given (both are then required).
    pub fn enabled(&self) -> bool {
        self.tls_cert.is_some() || self.tls_key.is_some()
    }

    /// `https` when serving TLS, else `http` (`wss`/`ws` for sockets).
    pub fn scheme(&self) -> &'static str {
        if self.enabled() { "https" } else { "http" }
    }
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[value(name = "1.2")]
    Tls12,
    /// TLS 1.3.
    #[value(name = "1.3")]
    Tls13,
}
