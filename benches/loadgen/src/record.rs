//! The result of one run: one JSON object per line, the input of the report.
//! Fields that do not apply to a scenario are left out.

use serde::{Deserialize, Serialize};

use crate::histogram::Percentiles;
use crate::swarm::SwarmOutcome;

/// One run's figures. See `benches/README.md` for what each means.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    /// fanout, rooms, idle, presence, writers, durable, coldload.
    pub scenario: String,
    /// Which server: goonline, floor, hocuspocus, y-websocket-server.
    pub target: String,
    /// yws, hocus or native.
    #[serde(default)]
    pub dialect: String,
    /// The scenario's parameters.
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Nothing lost and no error.
    #[serde(default)]
    pub ok: bool,
    /// Edit deliveries expected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expected: Option<u64>,
    /// Edit deliveries seen (first time).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub delivered: Option<u64>,
    /// expected − delivered.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub missing: Option<u64>,
    /// Deliveries seen more than once.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duplicates: Option<u64>,
    /// Edit latency (send → arrival at a reader), or ack latency for `durable`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub latency_ms: Option<Percentiles>,
    /// Edit deliveries per second over the window.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deliveries_per_sec: Option<f64>,
    /// Frames that carried new edits, at all readers.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frames_in: Option<u64>,
    /// Edits per such frame (>1 when the server merges).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub edits_per_frame: Option<f64>,
    /// Server CPU, percent of one core, over the window.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_cpu_pct: Option<f64>,
    /// Server CPU time per delivered edit, µs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_cpu_us_per_delivery: Option<f64>,
    /// Server RSS at the end of the window, kB.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub server_rss_kb: Option<u64>,
    /// The load generator's CPU, percent of one core.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loadgen_cpu_pct: Option<f64>,
    /// Awareness frames delivered per second (presence).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub awareness_per_sec: Option<f64>,
    /// Client states in those frames per second.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub awareness_states_per_sec: Option<f64>,
    /// Connections held (idle).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub connections: Option<u64>,
    /// Server RSS per connection, kB (idle).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rss_per_conn_kb: Option<f64>,
    /// Server RSS before connecting, kB (idle).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rss_before_kb: Option<u64>,
    /// Server RSS with every connection synced, kB (idle).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub rss_after_kb: Option<u64>,
    /// Durable acknowledgements per second.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub acked_per_sec: Option<f64>,
    /// sqlite or postgres.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub backend: Option<String>,
    /// Time to open a cold document, ms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub load_ms: Option<f64>,
    /// Server peak RSS, kB.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub peak_rss_kb: Option<u64>,
    /// Coldload: log_N or snapshot.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
    /// Scenario-specific figures (topic scenarios).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty", default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// `uname`-style machine description.
    #[serde(default)]
    pub machine: String,
    /// When the run happened (UTC, RFC 3339).
    #[serde(default)]
    pub at: String,
    /// What went wrong, if anything.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

impl Record {
    /// A record for `scenario` against `target`, stamped with the machine and time.
    pub fn new(scenario: &str, target: &str, dialect: &str) -> Record {
        Record {
            scenario: scenario.into(),
            target: target.into(),
            dialect: dialect.into(),
            machine: machine(),
            at: now_rfc3339(),
            ..Record::default()
        }
    }

    /// Sets a parameter.
    pub fn param(&mut self, key: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        self.params.insert(key.into(), value.into());
        self
    }

    /// Sets a scenario-specific figure.
    pub fn extra(&mut self, key: &str, value: impl Into<serde_json::Value>) -> &mut Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Fills in what a swarm run measured.
    pub fn fill_swarm(&mut self, o: &SwarmOutcome) {
        let secs = o.elapsed.as_secs_f64().max(1e-9);
        self.expected = Some(o.expected);
        self.delivered = Some(o.delivered);
        self.missing = Some(o.expected.saturating_sub(o.delivered));
        self.duplicates = Some(o.duplicates);
        self.latency_ms = Some(o.latency.percentiles());
        self.deliveries_per_sec = Some(o.delivered as f64 / secs);
        self.frames_in = Some(o.frames);
        self.edits_per_frame = (o.frames > 0).then(|| o.delivered as f64 / o.frames as f64);
        if let Some((ns, pct)) = o.server_cpu {
            self.server_cpu_pct = Some(pct);
            if o.delivered > 0 {
                self.server_cpu_us_per_delivery = Some(ns as f64 / 1000.0 / o.delivered as f64);
            }
        }
        self.server_rss_kb = o.server_rss_kb;
        self.loadgen_cpu_pct = o.loadgen_cpu_pct;
        if o.awareness_frames > 0 {
            self.awareness_per_sec = Some(o.awareness_frames as f64 / secs);
            self.awareness_states_per_sec = Some(o.awareness_entries as f64 / secs);
        }
        self.ok = o.errors.is_empty() && o.delivered >= o.expected;
        if !o.errors.is_empty() {
            let shown: Vec<&str> = o.errors.iter().take(5).map(String::as_str).collect();
            self.error = Some(format!(
                "{} problem(s): {}",
                o.errors.len(),
                shown.join("; ")
            ));
        }
    }
}

/// CPU model, cores and memory, from `/proc`.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split(':')
                    .nth(1)
                    .map(|v| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
        })
        .map_or(0.0, |kb| kb as f64 / 1024.0 / 1024.0);
    format!("{cpu}, {cores} cores, {mem_gb:.0} GB")
}

/// The current UTC time as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_stamp_is_rfc3339_utc() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    #[test]
    fn records_round_trip_without_absent_fields() {
        let mut r = Record::new("idle", "goonline", "yws");
        r.param("connections", 1000).connections = Some(1000);
        let line = serde_json::to_string(&r).unwrap();
        assert!(!line.contains("latency_ms"));
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back.connections, Some(1000));
        assert_eq!(back.params["connections"], 1000);
    }
}
