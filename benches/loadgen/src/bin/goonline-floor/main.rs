//! `goonline-floor`: the raw WebSocket broadcast floor.
//!
//! The load generator runs one fan-out scenario against real collaboration
//! servers (GoOnline, Hocuspocus, @y/websocket-server, ...) and against this
//! binary, then reports every real server's figures as ratios to this one. So
//! this server does as little as a Yjs-compatible relay can do and no more: no
//! CRDT, no document state, no storage, no authentication. Whatever a real
//! server costs above these figures is what its features cost on this machine.
//!
//! Protocol (just enough y-websocket for Yjs-style clients):
//! - the room is the request path without its leading `/` (`/doc-17` → `doc-17`);
//! - a binary sync step 1 (`[0, 0, ..]`) is answered, to its sender alone, with a
//!   sync step 2 carrying the empty update: `[0, 1, 2, 0, 0]`. A connection joins
//!   its room before it reads its first frame, so a client that has received this
//!   reply is known to be receiving the room's broadcasts;
//! - every other binary frame (updates, step 2, awareness, junk of any length) is
//!   relayed verbatim to every other connection of the room, never echoed back;
//! - text frames are ignored, pings are answered by tungstenite, close ends.
//!
//! Why it is built this way (see `shared/reference/performance.md`):
//! - One shared `tokio::sync::broadcast` ring per room instead of a queue per
//!   connection: a published frame is stored once, and every reader clones a
//!   `Bytes` handle out of the ring. A shared ring gave better tail latency than
//!   per-connection mpsc queues at high rates.
//! - One task per connection, waiting on both its socket's readiness and its
//!   ring receiver (no second task, no channel between them). When a broadcast
//!   arrives it drains everything else already in the ring, feeds every frame to
//!   the socket and flushes once: batching brings the cost from ~6–10 µs per
//!   delivery (one write syscall each) to ~1 µs or less under load.
//! - A reader that falls a whole ring behind is closed with code 4429 (slow
//!   consumer). Messages are never skipped silently: the load generator counts
//!   losses, and a closed connection is an honest, visible failure.
//! - 4 KiB tungstenite read/write buffers: the read buffer is allocated and
//!   zero-filled per connection, so the 128 KiB default costs ~138 KB of RSS per
//!   idle connection, 4 KiB about 6–7 KB.
//! - Rings grow on demand (64 → 256 → 1024 → 4096 → 16384 slots by default). A
//!   16384-slot ring is about 1.2 MB of touched memory, allocated up front by
//!   tokio; at 1,000 small rooms that would dwarf the connections themselves and
//!   make the floor look heavy in many-room runs. A room starts small, and when a
//!   publish sees its slowest reader a quarter of the ring behind, it swaps in a
//!   four times larger ring (see [`Ring::grow`]). A smaller ring is always
//!   replaced long before anyone falls a whole ring behind, so a reader is never
//!   closed earlier than a fixed ring of `--ring-capacity` slots would close it.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

mod rooms;

use rooms::{Event, Membership, Room, State, lock};

/// Sync step 2 with an empty Yjs update: messageSync, messageYjsSyncStep2,
/// varUint8Array of length 2 holding the empty update `[0, 0]`.
const SYNC_STEP2_EMPTY: [u8; 5] = [0, 1, 2, 0, 0];

/// Close code sent to a reader that fell a whole ring behind.
const CLOSE_SLOW_CONSUMER: u16 = 4429;

/// Tungstenite buffer sizes: small, because the read buffer is allocated and
/// zero-filled for every connection, idle or not.
const WS_BUFFER_SIZE: usize = 4 * 1024;
const WS_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

/// Most frames fed between two flushes. Bounds how long a connection task runs
/// without going back to `select!` (where it reads its socket and where tokio's
/// cooperative budget can make it yield) while writers keep the ring full.
const MAX_BATCH: usize = 1024;

/// Most frames read from one socket before the task serves its own ring and
/// yields (see [`relay`]).
const READ_BATCH: usize = 64;

/// How long a closing handshake may take before the socket is simply dropped
/// (a slow consumer may not be reading at all).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Parser, Debug)]
#[command(
    name = "goonline-floor",
    about = "Minimal WebSocket broadcast server (no CRDT, no storage): the fan-out floor for the GoOnline load generator"
)]
struct Args {
    /// Address to listen on; port 0 picks a free port, printed as `listening on http://ADDR`.
    #[arg(long, env = "GOONLINE_FLOOR_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Largest per-room ring, in messages: a reader this far behind is closed with 4429.
    /// Tokio rounds it up to a power of two.
    #[arg(
        long,
        env = "GOONLINE_FLOOR_RING_CAPACITY",
        default_value_t = 16384,
        value_parser = clap::value_parser!(u32).range(1..=(1 << 24))
    )]
    ring_capacity: u32,
}

fn ws_config() -> WebSocketConfig {
    // `WebSocketConfig` is non-exhaustive: build it from the default. The
    // default max_write_buffer_size (unbounded) stays: a writer blocked on a
    // slow socket is bounded by the ring, which closes it when it lags.
    WebSocketConfig::default()
        .read_buffer_size(WS_BUFFER_SIZE)
        .write_buffer_size(WS_BUFFER_SIZE)
        .max_message_size(Some(WS_MAX_MESSAGE_SIZE))
        .max_frame_size(Some(WS_MAX_MESSAGE_SIZE))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    {
        // Scripts parse this line to find the port: exactly one line, flushed.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        out.flush()?;
    }

    let state: &'static State = Box::leak(Box::new(State {
        rooms: Mutex::new(HashMap::new()),
        max_ring_capacity: args.ring_capacity as usize,
        next_conn_id: AtomicU64::new(1),
    }));

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        () = accept_loop(listener, state) => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = sigterm.recv() => {}
    }
    // Returning drops the runtime, which cancels every connection task.
    Ok(())
}

async fn accept_loop(listener: TcpListener, state: &'static State) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                // Small frames must leave at once, not wait for Nagle's algorithm.
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, state));
            }
            Err(e) => {
                // Typically EMFILE at the open-files limit: back off instead of
                // spinning, and keep serving the connections already open.
                eprintln!("goonline-floor: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Handshake callback that only records the request path (the room name).
/// A `Callback` impl rather than a closure because the `Result` type is
/// tungstenite's, large `Err` variant included.
struct RecordPath<'a>(&'a mut String);

impl Callback for RecordPath<'_> {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        self.0.push_str(request.uri().path());
        Ok(response)
    }
}

async fn serve(stream: TcpStream, state: &'static State) {
    let mut path = String::new();
    let record_path = RecordPath(&mut path);
    let Ok(mut ws) =
        tokio_tungstenite::accept_hdr_async_with_config(stream, record_path, Some(ws_config()))
            .await
    else {
        return;
    };
    let name = path.strip_prefix('/').unwrap_or(&path).to_owned();
    let id = state.next_conn_id.fetch_add(1, Ordering::Relaxed);

    // Join before reading the first frame: the step 2 reply then proves to the
    // client that it receives the room's broadcasts.
    let (room, rx) = state.join(name);
    let membership = Membership { state, room };

    if let Exit::SlowConsumer = relay(&mut ws, &membership.room, rx, id, state).await {
        let frame = CloseFrame {
            code: CloseCode::from(CLOSE_SLOW_CONSUMER),
            reason: Utf8Bytes::from_static("slow consumer"),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
    }
}

enum Exit {
    /// Closed by the peer, or a socket or protocol error.
    Done,
    /// The reader fell a whole ring behind.
    SlowConsumer,
}

/// The connection's one task: reads the socket and writes the room's
/// broadcasts, whichever is ready.
///
/// The socket is read only when it has signalled readiness, not on every
/// wake-up: tungstenite zero-fills its whole read buffer before each read
/// attempt, even one that finds nothing, and with `ws.next()` as a `select!`
/// branch every broadcast wake-up paid for that (about 5% of the server's CPU
/// at 10 edits/s to 1,000 readers). So the task reads whatever frames are
/// available without waiting, then waits on the socket's readiness or the
/// ring. Both waits are cancel-safe, so losing a `select!` race loses nothing.
async fn relay(
    ws: &mut WebSocketStream<TcpStream>,
    room: &Room,
    mut rx: broadcast::Receiver<Event>,
    id: u64,
    state: &State,
) -> Exit {
    // Start with a read attempt rather than trust that the handshake left
    // nothing buffered (tungstenite rejects data pipelined after the request,
    // but one attempt is cheap and removes the question).
    let mut readable = true;
    loop {
        if readable {
            // `now_or_never` gives `None` once a read would block (the socket
            // then re-arms its readiness) or when tokio's cooperative budget is
            // spent (readiness is kept, so the wait below returns at once).
            let mut batch = 0;
            while batch < READ_BATCH {
                let Some(incoming) = ws.next().now_or_never() else {
                    readable = false;
                    break;
                };
                if let Err(exit) = on_incoming(ws, incoming, room, id, state).await {
                    return exit;
                }
                batch += 1;
            }
        }
        if readable {
            // The batch is full and more frames may sit in tungstenite's buffer,
            // where readiness would not announce them. Serve our own ring (a fast
            // writer's receiver fills with its own frames too), let the room's
            // readers run, then read on. Without this a writer flooding its socket
            // published ~10,000 frames per poll (coop budget only counts read
            // syscalls, ~100 frames each) and its readers fell a ring behind.
            let first = match rx.try_recv() {
                Ok(event) => Some(event),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Lagged(_)) => return Exit::SlowConsumer,
                Err(TryRecvError::Closed) => return Exit::Done,
            };
            if let Some(event) = first
                && let Err(exit) = deliver(ws, &mut rx, event, id).await
            {
                return exit;
            }
            tokio::task::yield_now().await;
            continue;
        }
        let result = tokio::select! {
            ready = std::future::poll_fn(|cx| ws.get_ref().poll_read_ready(cx)) => {
                readable = ready.is_ok();
                if readable { Ok(()) } else { Err(Exit::Done) }
            }
            event = rx.recv() => match event {
                Ok(event) => deliver(ws, &mut rx, event, id).await,
                Err(RecvError::Lagged(_)) => Err(Exit::SlowConsumer),
                Err(RecvError::Closed) => Err(Exit::Done),
            },
        };
        if let Err(exit) = result {
            return exit;
        }
    }
}

/// Handles one frame read from the client.
async fn on_incoming(
    ws: &mut WebSocketStream<TcpStream>,
    incoming: Option<Result<Message, WsError>>,
    room: &Room,
    id: u64,
    state: &State,
) -> Result<(), Exit> {
    match incoming {
        Some(Ok(Message::Binary(data))) => {
            if data.len() >= 2 && data[0] == 0 && data[1] == 0 {
                // Sync step 1: answer this client alone, at once.
                let reply = Message::Binary(Bytes::from_static(&SYNC_STEP2_EMPTY));
                ws.send(reply).await.map_err(|_| Exit::Done)
            } else {
                room.publish(id, data, state.max_ring_capacity);
                Ok(())
            }
        }
        Some(Ok(Message::Close(_))) => {
            // Tungstenite has queued the close reply; send it and go.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.flush()).await;
            Err(Exit::Done)
        }
        // Text is not part of the protocol; pings are answered inside
        // tungstenite; pongs and raw frames mean nothing here.
        Some(Ok(_)) => Ok(()),
        Some(Err(_)) | None => Err(Exit::Done),
    }
}

/// Writes `first` and everything else already queued in the ring (up to
/// [`MAX_BATCH`] frames), skipping this connection's own frames, then flushes
/// once: one write syscall per batch (per 4 KiB of it: tungstenite writes out
/// whenever its buffer passes `write_buffer_size`).
async fn deliver(
    ws: &mut WebSocketStream<TcpStream>,
    rx: &mut broadcast::Receiver<Event>,
    first: Event,
    id: u64,
) -> Result<(), Exit> {
    let mut event = first;
    let mut fed = 0;
    loop {
        match event {
            Event::Frame(from, data) => {
                if from != id {
                    ws.feed(Message::Binary(data))
                        .await
                        .map_err(|_| Exit::Done)?;
                    fed += 1;
                }
            }
            Event::Switch(receivers) => match lock(&receivers).pop() {
                Some(next) => *rx = next,
                // Unreachable: the swap made one receiver per member.
                None => return Err(Exit::Done),
            },
        }
        if fed >= MAX_BATCH {
            break;
        }
        event = match rx.try_recv() {
            Ok(event) => event,
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Lagged(_)) => return Err(Exit::SlowConsumer),
            Err(TryRecvError::Closed) => return Err(Exit::Done),
        };
    }
    if fed > 0 {
        ws.flush().await.map_err(|_| Exit::Done)?;
    }
    Ok(())
}
