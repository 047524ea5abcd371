//! Topic scenarios: chat fan-out to many subscribers and replay of a long
//! history, against a real `goonline serve`, with the raw broadcast floor and
//! the REST door as the peers they are compared with (see `benches/README.md`,
//! "Topics").
//!
//! - [`client`]: a native client (`hello`, `call`/`reply`) for setup;
//! - [`setup`]: a fresh user, business and channel; seeding by `chat.send`;
//! - [`message`]: message bodies carrying their send time, and a subscriber's
//!   tally (each message once, `seq` in order, latency);
//! - [`fanout`]: `topics-fanout`, GoOnline or the floor (its subscribers in
//!   `readers`);
//! - [`replay`]: `topics-replay`, over the socket and over REST;
//! - [`http`]: the minimal HTTP/1.1 client the REST door needs;
//! - [`report`]: the Markdown tables with ratios (`topics-report`).
//!
//! This file holds the command-line arguments and turns outcomes into
//! [`Record`]s.

use std::time::Duration;

use crate::histogram::Histogram;
use crate::record::Record;
use clap::Args;

pub mod client;
pub mod fanout;
pub mod http;
pub mod message;
mod readers;
pub mod replay;
pub mod report;
pub mod setup;

/// Which server `topics-fanout` drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FanoutTarget {
    /// `goonline serve`: native `sub` and `chat.send`.
    Goonline,
    /// `goonline-floor`: readers in one room, a writer relaying same-sized frames.
    Floor,
}

/// Flags of `topics-fanout`.
#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// GoOnline: the native socket URL (`ws://H/v1/ws`); floor: `ws://H`.
    #[arg(long)]
    pub url: String,
    /// Which server is at `--url`.
    #[arg(long, value_enum, default_value = "goonline")]
    pub target: FanoutTarget,
    /// Server process whose CPU and RSS are measured.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Append the JSON record to this file (it is printed on stdout too).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Subscribers, each on its own socket.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Messages per second, all writers together.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// Writer connections (one user); message `i` goes through writer `i mod writers`.
    /// GoOnline runs one connection's calls one at a time.
    #[arg(long, default_value_t = 1)]
    pub writers: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Characters per message body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Seconds to wait after the last message for deliveries in flight.
    #[arg(long, default_value_t = 10)]
    pub drain: u64,
    /// GoOnline: subscribers connect to these socket URLs (comma-separated,
    /// round-robin) instead of `--url` — other nodes of a cluster, to time
    /// cross-node delivery.
    #[arg(long, value_delimiter = ',')]
    pub subscriber_urls: Vec<String>,
    /// Label of the server in the results (default: the target's name).
    #[arg(long)]
    pub label: Option<String>,
}

/// Flags of `topics-replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The native socket URL (`ws://H/v1/ws`); REST is on the same host and port.
    #[arg(long)]
    pub url: String,
    /// Server process whose CPU is measured.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Append the JSON records to this file (they are printed on stdout too).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Label of the store (sqlite or postgres) in the results.
    #[arg(long, default_value = "sqlite")]
    pub backend: String,
    /// Messages in the channel's history.
    #[arg(long, default_value_t = 100_000)]
    pub events: usize,
    /// Characters per message body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Sockets seeding the history with `chat.send`.
    #[arg(long, default_value_t = 4)]
    pub seed_sockets: usize,
    /// `chat.send` calls in flight per seeding socket.
    #[arg(long, default_value_t = 64)]
    pub seed_window: usize,
    /// Replays through each door (alternating socket, REST).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Events per REST page (the server allows 1–500).
    #[arg(long, default_value_t = 500)]
    pub limit: u32,
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn pct(h: &Histogram) -> serde_json::Value {
    serde_json::to_value(h.percentiles()).unwrap_or_default()
}

/// `topics-fanout`.
pub async fn run_fanout(a: &FanoutArgs) -> Result<Vec<Record>, String> {
    let tag = format!("{:08x}", crate::swarm::rand_u32());
    let (side, target) = match a.target {
        FanoutTarget::Goonline => (
            fanout::Side::GoOnline(setup::world(&a.url).await?),
            "goonline",
        ),
        FanoutTarget::Floor => (
            fanout::Side::Floor {
                base: a.url.clone(),
                room: format!("lg{tag}-topics"),
                topic: format!("biz/0193a5b0-0000-7000-8000-{tag}0000/chat/bench-{tag}"),
            },
            "floor",
        ),
    };
    let o = fanout::run(fanout::FanoutPlan {
        side,
        subscribers: a.subscribers,
        rate: a.rate,
        writers: a.writers.max(1),
        duration: Duration::from_secs(a.duration),
        body_bytes: a.body_bytes,
        drain: Duration::from_secs(a.drain),
        server: a.server_pid,
        subscriber_urls: a.subscriber_urls.clone(),
    })
    .await?;
    // The floor's readers join with a y-websocket step 1; the frames it relays are
    // the writer's own (MessagePack `event`s shaped like GoOnline's).
    let dialect = if target == "floor" { "raw" } else { "native" };
    let label = a.label.as_deref().unwrap_or(target);
    let mut r = Record::new("topics-fanout", label, dialect);
    if !a.subscriber_urls.is_empty() {
        r.param("subscriber_nodes", a.subscriber_urls.len());
    }
    r.param("subscribers", a.subscribers)
        .param("rate", a.rate)
        .param("writers", a.writers.max(1))
        .param("duration", a.duration)
        .param("body_bytes", a.body_bytes);
    let secs = o.elapsed.as_secs_f64().max(1e-9);
    r.expected = Some(o.expected);
    r.delivered = Some(o.delivered);
    r.missing = Some(o.expected.saturating_sub(o.delivered));
    r.duplicates = Some(o.duplicates);
    r.latency_ms = Some(o.latency.percentiles());
    r.deliveries_per_sec = Some(o.delivered as f64 / secs);
    if let Some((ns, p)) = o.server_cpu {
        r.server_cpu_pct = Some(p);
        if o.delivered > 0 {
            r.server_cpu_us_per_delivery = Some(ns as f64 / 1000.0 / o.delivered as f64);
        }
    }
    r.server_rss_kb = o.server_rss_kb;
    r.loadgen_cpu_pct = o.loadgen_cpu_pct;
    r.extra("messages", o.messages)
        .extra("out_of_order", o.out_of_order)
        .extra("frame_bytes", (o.frame_bytes * 10.0).round() / 10.0)
        .extra("window_secs", (secs * 1000.0).round() / 1000.0);
    if o.send_reply.count() > 0 {
        r.extra("send_reply_ms", pct(&o.send_reply));
    }
    r.ok = o.errors.is_empty() && o.delivered >= o.expected && o.out_of_order == 0;
    if !o.errors.is_empty() {
        let shown: Vec<&str> = o.errors.iter().take(5).map(String::as_str).collect();
        r.error = Some(format!(
            "{} problem(s): {}",
            o.errors.len(),
            shown.join("; ")
        ));
    }
    Ok(vec![r])
}

/// The `host:port` of a `ws://host:port/...` URL.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest).to_string()
}

/// `topics-replay`.
pub async fn run_replay(a: &ReplayArgs) -> Result<Vec<Record>, String> {
    let w = setup::world(&a.url).await?;
    let seeded = setup::seed(&w, a.events, a.body_bytes, a.seed_sockets, a.seed_window).await?;
    eprintln!(
        "topics-replay: seeded {} messages in {:.1} s ({:.0}/s)",
        a.events,
        seeded.as_secs_f64(),
        a.events as f64 / seeded.as_secs_f64().max(1e-9)
    );
    let http = authority(&a.url);
    let mut records = Vec::new();
    for round in 1..=a.rounds.max(1) {
        for variant in ["socket", "rest"] {
            let o = if variant == "socket" {
                replay::socket(&w, a.events as u64, a.server_pid).await
            } else {
                replay::rest(&w, &http, a.events as u64, a.limit, a.server_pid).await
            };
            let dialect = if variant == "socket" {
                "native"
            } else {
                "rest"
            };
            let mut r = Record::new("topics-replay", "goonline", dialect);
            r.param("events", a.events)
                .param("body_bytes", a.body_bytes)
                .param("limit", a.limit)
                .param("round", round);
            r.backend = Some(a.backend.clone());
            r.variant = Some(variant.into());
            let secs = o.elapsed.as_secs_f64().max(1e-9);
            r.load_ms = Some(secs * 1000.0);
            r.loadgen_cpu_pct = o.loadgen_cpu_pct;
            r.extra("events_received", o.events)
                .extra("bytes", o.bytes)
                .extra("events_per_sec", (o.events as f64 / secs).round())
                .extra("mb_per_sec", (o.bytes as f64 / secs / 1e4).round() / 100.0)
                .extra("seed_secs", (seeded.as_secs_f64() * 10.0).round() / 10.0);
            if variant == "rest" {
                r.extra("pages", o.pages);
            }
            if let Some((ns, p)) = o.server_cpu {
                r.server_cpu_pct = Some(p);
                r.extra(
                    "server_cpu_us_per_event",
                    (ns as f64 / 1000.0 / o.events.max(1) as f64 * 100.0).round() / 100.0,
                );
            }
            r.ok = o.error.is_none();
            r.error = o.error;
            records.push(r);
        }
    }
    Ok(records)
}
