//! The subscriber connection: one task owns it, keeps its SUBSCRIBEs in line
//! with the channels the node wants, feeds pushed messages to the
//! [`inbox`](super::inbox), and reconnects when it is lost.
//!
//! Subscribing is reference-counted in [`Shared`]; the task only reconciles
//! a channel name at a time ("is it wanted? is it subscribed?"), in the order
//! the requests were made, so a quick subscribe-unsubscribe-subscribe always
//! ends right, and a second subscriber's future resolves only after the
//! first one's SUBSCRIBE was confirmed. After a reconnect it subscribes
//! everything wanted in one go, before the bus reports up and handlers
//! resync: a catch-up from the store must start after the channel is heard
//! again, or the messages in between would be lost until the next gap.
//!
//! The connection speaks RESP3, where Redis pushes messages out of band and
//! a subscribed connection still answers PING, which is how a half-open
//! connection is noticed.

use std::collections::HashSet;
use std::sync::Arc;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, Msg, PushInfo, PushKind, RedisError, RedisResult};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::inbox;
use super::link::{self, AttemptLog, Backoff};
use super::shared::{Link, Shared};
use crate::bus::{Channel, wire};

/// Channel names per SUBSCRIBE command when resubscribing everything.
const SUBSCRIBE_CHUNK: usize = 512;
/// Requests reconciled together (one SUBSCRIBE and one UNSUBSCRIBE).
const REQUEST_BATCH: usize = 256;

/// "Bring this channel's subscription in line with whether it is wanted."
pub(super) struct Reconcile {
    /// The pub/sub channel name.
    pub(super) name: String,
    /// Told once the subscription is confirmed (dropped if it cannot be, so
    /// the waiting subscriber goes on; a reconnect resubscribes and resyncs).
    pub(super) done: Option<oneshot::Sender<()>>,
}

/// Why a connected session ended.
enum Ended {
    Cancelled,
    Lost(RedisError),
}

/// One live subscriber connection.
struct Connection {
    con: MultiplexedConnection,
    pushes: UnboundedReceiver<PushInfo>,
    /// Channel names Redis confirmed on this connection.
    subscribed: HashSet<String>,
    /// The control channel: always subscribed.
    control: String,
}

/// Runs until `cancel` fires.
pub(super) async fn run(
    shared: Arc<Shared>,
    client: Client,
    mut requests: UnboundedReceiver<Reconcile>,
    cancel: CancellationToken,
) {
    let control = wire::channel_name(&shared.prefix, &Channel::Control);
    let mut backoff = Backoff::new();
    let mut attempts = AttemptLog::new("subscriber");
    let mut connected_before = false;
    // Names asked about while disconnected after the snapshot of wanted
    // channels was taken: reconciled once connected.
    let mut parked: HashSet<String> = HashSet::new();
    loop {
        parked.clear();
        let attempt = open(&shared, &client, control.clone());
        tokio::pin!(attempt);
        let opened = loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                opened = &mut attempt => break opened,
                Some(request) = requests.recv() => park(&mut parked, request),
            }
        };
        match opened {
            Ok(mut conn) => {
                backoff.reset();
                attempts.connected();
                let ended = match catch_up(&shared, &mut conn, &mut requests, &mut parked).await {
                    Ok(()) => {
                        if connected_before {
                            shared.count_reconnect();
                        }
                        connected_before = true;
                        shared.link_up(Link::Subscriber);
                        serve(&shared, &mut conn, &mut requests, &cancel).await
                    }
                    Err(e) => Ended::Lost(e),
                };
                shared.link_down(Link::Subscriber);
                match ended {
                    Ended::Cancelled => return,
                    Ended::Lost(e) => {
                        tracing::warn!(error = %e, "Redis bus subscriber connection lost")
                    }
                }
            }
            Err(e) => attempts.failed(&e),
        }
        let pause = tokio::time::sleep(backoff.next_delay());
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut pause => break,
                Some(request) = requests.recv() => park(&mut parked, request),
            }
        }
    }
}

/// While disconnected: the waiting subscriber goes on at once (the bus is
/// down; it will subscribe and resync when back), and the name is kept.
fn park(parked: &mut HashSet<String>, request: Reconcile) {
    if let Some(done) = request.done {
        let _ = done.send(());
    }
    parked.insert(request.name);
}

/// Connects and subscribes the control channel and every wanted channel.
async fn open(shared: &Shared, client: &Client, control: String) -> RedisResult<Connection> {
    let (push_tx, pushes) = unbounded_channel();
    let config = AsyncConnectionConfig::new().set_push_sender(push_tx);
    let mut con = link::connect(client, config).await?;
    let mut names = shared.wanted_names();
    names.push(control.clone());
    for chunk in names.chunks(SUBSCRIBE_CHUNK) {
        con.subscribe(chunk).await?;
    }
    Ok(Connection {
        con,
        pushes,
        subscribed: names.into_iter().collect(),
        control,
    })
}

/// Once connected, before reporting up: from now on subscribers wait for
/// Redis's confirmation; the channels asked about while down, and requests
/// already queued, are reconciled first.
async fn catch_up(
    shared: &Shared,
    conn: &mut Connection,
    requests: &mut UnboundedReceiver<Reconcile>,
    parked: &mut HashSet<String>,
) -> RedisResult<()> {
    shared.set_subscriber_ready();
    let mut batch: Vec<Reconcile> = parked
        .drain()
        .map(|name| Reconcile { name, done: None })
        .collect();
    while let Ok(request) = requests.try_recv() {
        batch.push(request);
    }
    reconcile(shared, conn, batch).await
}

/// Receives until the connection is lost or the bus is dropped.
async fn serve(
    shared: &Shared,
    conn: &mut Connection,
    requests: &mut UnboundedReceiver<Reconcile>,
    cancel: &CancellationToken,
) -> Ended {
    let mut ping = link::ping_timer();
    let mut batch = Vec::with_capacity(REQUEST_BATCH);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ended::Cancelled,
            push = conn.pushes.recv() => match push {
                Some(push) if push.kind != PushKind::Disconnection => {
                    if let Some(msg) = Msg::from_push_info(push) {
                        inbox::receive(shared, msg.get_channel_name(), msg.get_payload_bytes());
                    }
                }
                _ => return Ended::Lost(closed()),
            },
            n = requests.recv_many(&mut batch, REQUEST_BATCH) => {
                // Every sender gone: the bus handle was dropped.
                if n == 0 {
                    return Ended::Cancelled;
                }
                if let Err(e) = reconcile(shared, conn, std::mem::take(&mut batch)).await {
                    return Ended::Lost(e);
                }
            }
            _ = ping.tick() => {
                if let Err(e) = link::ping(&mut conn.con).await {
                    return Ended::Lost(e);
                }
            }
        }
    }
}

/// Subscribes what is wanted and not subscribed, unsubscribes the reverse,
/// then tells the waiting subscribers.
async fn reconcile(
    shared: &Shared,
    conn: &mut Connection,
    batch: Vec<Reconcile>,
) -> RedisResult<()> {
    let mut add: Vec<&str> = Vec::new();
    let mut remove: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    for request in &batch {
        let name = request.name.as_str();
        if !seen.insert(name) || name == conn.control {
            continue;
        }
        match (shared.is_wanted(name), conn.subscribed.contains(name)) {
            (true, false) => add.push(name),
            (false, true) => remove.push(name),
            _ => {}
        }
    }
    if !add.is_empty() {
        conn.con.subscribe(&add).await?;
        conn.subscribed.extend(add.iter().map(|n| n.to_string()));
    }
    if !remove.is_empty() {
        conn.con.unsubscribe(&remove).await?;
        for name in &remove {
            conn.subscribed.remove(*name);
        }
    }
    for request in batch {
        if let Some(done) = request.done {
            let _ = done.send(());
        }
    }
    Ok(())
}

fn closed() -> RedisError {
    RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
}
