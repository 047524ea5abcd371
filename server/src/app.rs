//! The HTTP application: router, shared state, and the serve-until-shutdown loop
//! with graceful drain.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use std::net::SocketAddr;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::serve::ListenerExt;
use goonline_engine::Engine;
use goonline_engine::ops::OpError;
use goonline_engine::ops::Registry;
use goonline_protocol::native::Limits;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::SecurityArgs;
use crate::error::ServerError;
use crate::health;
use crate::http::OriginPolicy;
use crate::http::peer::PeerIp;
use crate::identity::Identity;
use crate::tls::TlsListener;
use crate::ws::auth::SocketAuth;
use crate::ws::hocuspocus::HocusDialect;
use crate::ws::native::NativeDialect;
use crate::ws::read_ahead::ReadAheadListener;
use crate::ws::ywebsocket::YwsDialect;
use crate::ws::{ConnSettings, Dialect, drive};

/// Tungstenite's read buffer: allocated for every connection and kept for its life
/// (zero-filled on the first read), so it weighs on every idle connection: the
/// 128 KiB default costs ~138 KB RSS per connection, and 4 KiB was 4 of the ~7 KB
/// an idle connection cost. It is also the most tungstenite reads per call; with
/// [`ReadAheadListener`] that is a copy from a read-ahead buffer, not a system
/// call, so 512 bytes reads large frames with less CPU than 4 KiB read straight
/// from the socket (256 bytes is slower again).
const WS_READ_BUFFER_BYTES: usize = 512;

/// Tungstenite's write buffer: frames queued up to this size are sent in one write.
/// It grows only when used, so it costs an idle connection nothing.
const WS_WRITE_BUFFER_BYTES: usize = 4 * 1024;

/// The services behind the API and the sockets.
#[derive(Clone)]
pub struct Services {
    /// Every operation.
    pub registry: Arc<Registry>,
    /// Accounts and tokens.
    pub identity: Identity,
    /// Identity and protection settings.
    pub security: Arc<SecurityArgs>,
    /// Signed-in connections per user, counted across the cluster.
    pub user_conns: Arc<crate::cluster::UserConnections>,
    /// How long the bus may be down before the node reports not ready.
    pub bus_down_grace: Duration,
}

/// State shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: Engine,
    /// Fired to close every connection (after the engine flushed).
    pub conn_shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for them.
    pub connections: TaskTracker,
    /// Heartbeat interval.
    pub heartbeat: Duration,
    /// Write timeout per flush.
    pub write_timeout: Duration,
    /// Operations, identity and settings.
    pub services: Services,
    /// Browser origins allowed to open sockets.
    pub origins: OriginPolicy,
    /// Token checks and operations for sockets.
    socket_auth: Arc<SocketAuth>,
    /// What every connection task needs, shared rather than copied into each.
    conn: Arc<ConnSettings>,
}

impl AppState {
    /// State for `engine` with the given timers.
    pub fn new(
        engine: Engine,
        heartbeat: Duration,
        write_timeout: Duration,
        services: Services,
    ) -> AppState {
        let conn_shutdown = CancellationToken::new();
        let conn = Arc::new(ConnSettings {
            metrics: engine.metrics().clone(),
            heartbeat,
            write_timeout,
            max_frame_bytes: engine.config().max_frame_bytes,
            shutdown: conn_shutdown.clone(),
            frames_per_sec: services.security.max_frames_per_sec,
            reauth_grace: Duration::from_secs(services.security.reauth_grace_secs.max(1)),
        });
        let socket_auth = Arc::new(SocketAuth {
            identity: services.identity.clone(),
            registry: services.registry.clone(),
            user_conns: services.user_conns.clone(),
        });
        let origins = OriginPolicy::new(&services.security.cors_origins);
        AppState {
            engine,
            conn_shutdown,
            connections: TaskTracker::new(),
            heartbeat,
            write_timeout,
            services,
            origins,
            socket_auth,
            conn,
        }
    }

    fn limits(&self) -> Limits {
        let c = self.engine.config();
        Limits {
            max_frame_bytes: c.max_frame_bytes as u64,
            max_doc_bytes: c.max_doc_bytes as u64,
            max_open_docs: c.max_open_docs as u64,
        }
    }

    /// Accepts a WebSocket: takes a connection slot first (so a full server answers
    /// 503 before upgrading), then runs `dialect` on the socket.
    fn upgrade<D: Dialect>(
        &self,
        ws: WebSocketUpgrade,
        dialect: D,
    ) -> Result<Response, ServerError> {
        let (session, events) = self.engine.connect()?;
        let settings = self.conn.clone();
        let connections = self.connections.clone();
        // Tracked from now, so a drain also waits for sockets still upgrading.
        let upgrading = self.connections.token();
        // Tungstenite refuses frames past its own limit by dropping the socket; keep
        // it above ours so oversized frames reach the dialect and get a proper answer.
        let hard_limit = settings.max_frame_bytes.saturating_mul(2).max(64 * 1024);
        Ok(ws
            .read_buffer_size(WS_READ_BUFFER_BYTES)
            .write_buffer_size(WS_WRITE_BUFFER_BYTES)
            .max_message_size(hard_limit)
            .max_frame_size(hard_limit)
            .on_upgrade(move |socket| {
                // A task of its own rather than axum's upgrade task, which would keep
                // the upgrade future and this closure's captures beside the
                // connection's state for as long as the connection lives.
                connections.spawn(drive(socket, session, events, dialect, settings));
                drop(upgrading);
                std::future::ready(())
            }))
    }
}

/// The router with every endpoint.
pub fn router(state: AppState) -> Router {
    let s = &state.services;
    let api = crate::api::router(
        s.registry.clone(),
        s.identity.clone(),
        s.security.max_body_bytes,
    );
    let identity_routes = s.identity.routes();
    let origins = state.origins.clone();
    let tls = s.security.tls;
    let app = Router::new()
        .route("/v1/ws", get(native_ws))
        .route("/y/{*doc}", get(yws_ws))
        .route("/hocuspocus", get(hocus_ws))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .with_state(state)
        .merge(api)
        .merge(identity_routes);
    crate::http::harden(app, &origins, tls)
}

impl AppState {
    /// Browsers send their page's origin with a WebSocket upgrade; only the
    /// configured origins may open sockets (cross-site WebSocket hijacking).
    fn check_origin(&self, headers: &HeaderMap) -> Result<(), ServerError> {
        if self.origins.allows(headers) {
            Ok(())
        } else {
            Err(ServerError::Op(OpError::Forbidden(
                "this origin may not open WebSockets here (see --cors-origins)".into(),
            )))
        }
    }
}

async fn native_ws(
    State(state): State<AppState>,
    PeerIp(ip): PeerIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ServerError> {
    state.check_origin(&headers)?;
    let dialect = NativeDialect::new(
        state.heartbeat.as_millis() as u64,
        state.limits(),
        state.socket_auth.clone(),
        ip,
    );
    state.upgrade(ws, dialect)
}

/// The y-websocket client's URL parameters (`params` option).
#[derive(serde::Deserialize)]
struct YwsQuery {
    token: Option<String>,
}

async fn yws_ws(
    State(state): State<AppState>,
    Path(doc): Path<String>,
    Query(q): Query<YwsQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ServerError> {
    state.check_origin(&headers)?;
    goonline_engine::session::validate_doc_name(&doc)?;
    let token = q.token.filter(|t| !t.is_empty());
    state.upgrade(ws, YwsDialect::new(doc, token, state.socket_auth.clone()))
}

async fn hocus_ws(
    State(state): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ServerError> {
    state.check_origin(&headers)?;
    state.upgrade(ws, HocusDialect::new(state.socket_auth.clone()))
}

/// Serves on `listener` (over TLS with `tls`) until `shutdown` resolves, then
/// drains: stop accepting, flush every pending write, close every socket with
/// 1001, flush again, stop the engine. Returns whether everything acknowledged
/// was flushed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<bool> {
    let engine = state.engine.clone();
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stopped = async move {
        let _ = stop_rx.await;
    };
    // The no-op taps on the outside: axum provides the peer address as
    // `ConnectInfo<SocketAddr>` for `TapIo` listeners, not for ours.
    let server = match tls {
        None => {
            let listener = ReadAheadListener(listener.tap_io(|tcp| {
                // Small real-time frames must not wait for Nagle.
                let _ = tcp.set_nodelay(true);
            }))
            .tap_io(|_| {});
            tokio::spawn(
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .into_future(),
            )
        }
        // No read-ahead under TLS: rustls already reads records whole and
        // hands tungstenite's small reads from its own buffer.
        Some(acceptor) => {
            let listener = TlsListener::new(listener, acceptor).tap_io(|_| {});
            tokio::spawn(
                axum::serve(listener, app)
                    .with_graceful_shutdown(stopped)
                    .into_future(),
            )
        }
    };
    shutdown.await;
    tracing::info!("shutdown requested: draining");
    engine.stop_accepting();
    let _ = stop_tx.send(());
    // Everything sequenced so far is committed before sockets close, so the acks
    // of those updates go out with the drain.
    let flushed_before = engine.flush(Duration::from_secs(20)).await;
    state.conn_shutdown.cancel();
    state.connections.close();
    if tokio::time::timeout(Duration::from_secs(10), state.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 10 s");
    }
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "HTTP server failed"),
        Ok(Err(e)) => tracing::error!(error = %e, "HTTP server task failed"),
        Err(_) => tracing::warn!("HTTP server did not stop within 5 s"),
        Ok(Ok(Ok(()))) => {}
    }
    let flushed = engine.shutdown(Duration::from_secs(20)).await;
    if !(flushed_before && flushed) {
        tracing::error!("shutdown: some updates could not be flushed (store unavailable?)");
    }
    Ok(flushed)
}
