//! Fake nodes on the real Redis, for the Redis bus tests: a handler that
//! records what it is delivered, a bus per node under a random channel prefix
//! (so parallel tests never hear each other), and a way to put a node behind
//! a TCP proxy to stage outages without touching the shared Redis.
//!
//! These tests never skip: a Redis that cannot be reached fails them.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use goonline_engine::bus::redis::{RedisBus, RedisBusConfig};
use goonline_engine::bus::{Bus, BusHandler, BusMessage, BusPayload, Channel, Control};
use goonline_engine::metrics::Metrics;
use goonline_engine::tcp_proxy::TcpProxy;

/// How long anything may take to happen before a test gives up.
pub const WAIT: Duration = Duration::from_secs(10);

/// The Redis the tests run against.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A client for the test's own commands; fails the test if Redis does not
/// answer.
pub async fn require_redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = redis::Client::open(url.as_str())
        .unwrap_or_else(|e| panic!("TEST_REDIS_URL `{url}` is not a Redis URL: {e}"));
    let mut con = tokio::time::timeout(WAIT, client.get_multiplexed_async_connection())
        .await
        .unwrap_or_else(|_| panic!("Redis at {url} did not answer"))
        .unwrap_or_else(|e| panic!("Redis at {url} is unreachable: {e}"));
    let _: String = redis::cmd("PING")
        .query_async(&mut con)
        .await
        .unwrap_or_else(|e| panic!("Redis at {url} does not answer PING: {e}"));
    con
}

/// A channel prefix no other test uses.
pub fn random_prefix() -> String {
    format!("gotest-{}", uuid::Uuid::new_v4().simple())
}

/// A node's handler: records every delivery and resync.
pub struct FakeNode {
    id: u64,
    received: Mutex<Vec<BusMessage>>,
    resyncs: AtomicU64,
}

impl BusHandler for FakeNode {
    fn node_id(&self) -> u64 {
        self.id
    }

    fn deliver(&self, msg: &BusMessage) {
        self.received.lock().unwrap().push(msg.clone());
    }

    fn resync(&self) {
        self.resyncs.fetch_add(1, Ordering::SeqCst);
    }
}

impl FakeNode {
    /// Everything delivered so far.
    pub fn messages(&self) -> Vec<BusMessage> {
        self.received.lock().unwrap().clone()
    }

    /// Sequence numbers of the document updates delivered on `doc`.
    pub fn update_seqs(&self, doc: &str) -> Vec<u64> {
        self.messages()
            .iter()
            .filter(|m| m.channel == doc_channel(doc))
            .filter_map(|m| match m.payload {
                BusPayload::Update { seq, .. } => Some(seq),
                _ => None,
            })
            .collect()
    }

    /// Whether a control message naming `doc` (a [`Control::Retire`]) arrived:
    /// the tests' marker that everything published before it got through.
    pub fn has_marker(&self, doc: &str) -> bool {
        self.messages().iter().any(
            |m| matches!(&m.payload, BusPayload::Control(Control::Retire { doc: d }) if d == doc),
        )
    }

    /// How many times the bus asked for a resync.
    pub fn resyncs(&self) -> u64 {
        self.resyncs.load(Ordering::SeqCst)
    }
}

/// One fake node: its bus, handler and metrics.
pub struct TestNode {
    pub bus: Arc<RedisBus>,
    pub node: Arc<FakeNode>,
    pub metrics: Arc<Metrics>,
}

impl TestNode {
    /// Starts a node with id `id` on `config`, without waiting for Redis.
    pub fn start(config: RedisBusConfig, id: u64) -> TestNode {
        let metrics = Arc::new(Metrics::default());
        let bus = RedisBus::start(config, metrics.clone()).expect("bus config is valid");
        let node = Arc::new(FakeNode {
            id,
            received: Mutex::new(Vec::new()),
            resyncs: AtomicU64::new(0),
        });
        let handler: Arc<dyn BusHandler> = node.clone();
        let weak: Weak<dyn BusHandler> = Arc::downgrade(&handler);
        bus.attach(weak);
        TestNode { bus, node, metrics }
    }

    /// Starts a node on `url` under `prefix` and waits until it is connected.
    pub async fn connected(url: &str, prefix: &str, id: u64) -> TestNode {
        let node = TestNode::start(RedisBusConfig::new(url).with_prefix(prefix), id);
        node.wait_connected().await;
        node
    }

    pub async fn wait_connected(&self) {
        eventually("the bus to connect", || self.bus.health().connected).await;
    }

    /// A counter or gauge of this node's metrics.
    pub fn metric(&self, pick: impl Fn(&Metrics) -> u64) -> u64 {
        pick(&self.metrics)
    }

    /// Publishes the marker [`FakeNode::has_marker`] looks for.
    pub fn publish_marker(&self, name: &str) {
        self.bus.publish(BusMessage::new(
            self.node.id,
            Channel::Control,
            BusPayload::Control(Control::Retire { doc: name.into() }),
        ));
    }

    /// Publishes an update with sequence number `seq` on `doc`.
    pub fn publish_update(&self, doc: &str, seq: u64) {
        self.bus.publish(BusMessage::update(
            self.node.id,
            Arc::from(doc),
            seq,
            bytes::Bytes::from(seq.to_le_bytes().to_vec()),
        ));
    }
}

pub fn doc_channel(doc: &str) -> Channel {
    Channel::Doc(Arc::from(doc))
}

pub fn topic_channel(topic: &str) -> Channel {
    Channel::Topic(Arc::from(topic))
}

/// Polls `check` until it holds, failing the test after [`WAIT`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A proxy to the test Redis, and the URL that goes through it.
pub async fn proxy_to_redis() -> (TcpProxy, String) {
    let url = redis_url();
    let (scheme, rest) = url.split_once("://").expect("TEST_REDIS_URL has a scheme");
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (format!("{u}@"), h),
        None => (String::new(), authority),
    };
    let target = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:6379")
    };
    let proxy = TcpProxy::start(target).await.expect("proxy starts");
    let proxied = format!("{scheme}://{userinfo}{}{path}", proxy.addr());
    (proxy, proxied)
}
