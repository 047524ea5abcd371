//! A TCP proxy for tests: forwards a local port to a target, and can cut the
//! link and restore it.
//!
//! Tests must never restart the shared Redis (or Postgres) other tests are
//! using, yet outages are what the bus and its receivers must survive. So a
//! test points the code at this proxy instead, and [`TcpProxy::cut`] closes
//! every proxied connection and refuses new ones, as a network partition or
//! a restarting server would; [`TcpProxy::restore`] lets connections through
//! again. The listening port stays the same throughout, so the code under
//! test reconnects to the address it was given. [`TcpProxy::stall`] is the
//! nastier outage: connections stay open but nothing passes any more (a peer
//! that vanished without closing), which only timeouts and pings notice.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// How long the proxy tries to reach the target for one connection.
const TARGET_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A running proxy; dropping it closes the port and every connection.
pub struct TcpProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    /// Stops the proxy and every connection it carries.
    stop: CancellationToken,
}

struct ProxyState {
    target: String,
    link: Mutex<Link>,
    /// Proxied connections open now.
    open: AtomicUsize,
}

/// Whether connections pass, and the tokens their forwarding stops on.
struct Link {
    cut: bool,
    stalled: bool,
    /// Cancelled to close the connections (a cut, or a restore after a
    /// stall); replaced by a restore.
    generation: CancellationToken,
    /// Cancelled by a stall: stop forwarding, keep the sockets open.
    stall: CancellationToken,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to
    /// `target` (`host:port`).
    pub async fn start(target: impl Into<String>) -> io::Result<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ProxyState {
            target: target.into(),
            link: Mutex::new(Link {
                cut: false,
                stalled: false,
                generation: CancellationToken::new(),
                stall: CancellationToken::new(),
            }),
            open: AtomicUsize::new(0),
        });
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(listener, state.clone(), stop.clone()));
        Ok(TcpProxy { addr, state, stop })
    }

    /// The address to connect to instead of the target.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every proxied connection, and closes new ones as soon as they
    /// are accepted, until [`TcpProxy::restore`].
    pub fn cut(&self) {
        let mut link = self.state.lock();
        link.cut = true;
        link.stalled = false;
        link.generation.cancel();
    }

    /// Stops forwarding bytes without closing anything: open connections and
    /// new ones hang, until [`TcpProxy::restore`] (or a cut) closes them.
    pub fn stall(&self) {
        let mut link = self.state.lock();
        link.stalled = true;
        link.stall.cancel();
    }

    /// Lets connections through again. Connections that hung in a stall are
    /// closed (their peers gave up on them long ago); after a cut there are
    /// none left.
    pub fn restore(&self) {
        let mut link = self.state.lock();
        if link.cut || link.stalled {
            link.generation.cancel();
            link.generation = CancellationToken::new();
            link.stall = CancellationToken::new();
        }
        link.cut = false;
        link.stalled = false;
    }

    /// Whether the proxy is cut.
    pub fn is_cut(&self) -> bool {
        self.state.lock().cut
    }

    /// How many proxied connections are open now.
    pub fn open_connections(&self) -> usize {
        self.state.open.load(Ordering::SeqCst)
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl ProxyState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<ProxyState>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((client, _)) = accepted else {
            // A failed accept (e.g. too many open files) is the client's
            // problem, not the proxy's: keep listening.
            continue;
        };
        let tokens = {
            let link = state.lock();
            if link.cut {
                // Dropping the socket closes it: the client sees the
                // connection end before any reply, as in an outage.
                continue;
            }
            Tokens {
                generation: link.generation.clone(),
                stall: link.stall.clone(),
                stop: stop.clone(),
            }
        };
        tokio::spawn(forward(client, state.clone(), tokens));
    }
}

/// What one connection's forwarding stops on.
struct Tokens {
    generation: CancellationToken,
    stall: CancellationToken,
    stop: CancellationToken,
}

impl Tokens {
    /// Resolves when the connection is to be closed.
    async fn closed(&self) {
        tokio::select! {
            _ = self.generation.cancelled() => {}
            _ = self.stop.cancelled() => {}
        }
    }
}

/// Carries one connection until either side closes it, a cut, or the proxy
/// stops; in a stall, holds it open without carrying anything.
async fn forward(mut client: TcpStream, state: Arc<ProxyState>, tokens: Tokens) {
    state.open.fetch_add(1, Ordering::SeqCst);
    // Counts the connection down however this returns.
    let _open = OpenGuard(&state);
    if tokens.stall.is_cancelled() {
        return tokens.closed().await;
    }
    let connect = tokio::time::timeout(
        TARGET_CONNECT_TIMEOUT,
        TcpStream::connect(state.target.as_str()),
    );
    let mut server = tokio::select! {
        _ = tokens.closed() => return,
        server = connect => match server {
            Ok(Ok(server)) => server,
            _ => return,
        },
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let stalled = tokio::select! {
        _ = tokens.closed() => false,
        _ = tokens.stall.cancelled() => true,
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
    };
    if stalled {
        tokens.closed().await;
    }
}

struct OpenGuard<'a>(&'a ProxyState);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}
