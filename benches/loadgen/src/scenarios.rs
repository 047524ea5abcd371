//! The scenarios as command-line subcommands: each builds its plan from flags,
//! runs it and turns the outcome into a [`Record`].

use std::time::Duration;

use clap::{Args, Subcommand};

use crate::presence::Presence;
use crate::record::Record;
use crate::swarm::{DocPlan, SwarmPlan, rand_u32};
use crate::wire::Dialect;

/// Flags every server-facing scenario takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// Base URL: for yws `/{doc}` is appended; for hocus and native it is the socket URL.
    #[arg(long)]
    pub url: String,
    /// Protocol the clients speak.
    #[arg(long, value_enum, default_value = "yws")]
    pub dialect: Dialect,
    /// Label of the server in the results.
    #[arg(long, default_value = "goonline")]
    pub target: String,
    /// Server process whose CPU and RSS are measured.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Append the JSON record to this file (it is printed on stdout too).
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Prefix of document names (default: random, so runs never share documents).
    #[arg(long)]
    pub doc_prefix: Option<String>,
    /// Readers apply every update to a Yrs document and the run checks convergence.
    #[arg(long)]
    pub verify: bool,
    /// Readers join these URLs (comma-separated, round-robin) instead of
    /// `--url`: other nodes of a cluster, to time cross-node delivery.
    #[arg(long, value_delimiter = ',')]
    pub reader_urls: Vec<String>,
}

impl Common {
    fn prefix(&self) -> String {
        self.doc_prefix
            .clone()
            .unwrap_or_else(|| format!("lg{:08x}", rand_u32()))
    }

    fn plan(&self, docs: Vec<DocPlan>, duration: u64, presence: Option<Presence>) -> SwarmPlan {
        SwarmPlan {
            dialect: self.dialect,
            url: self.url.clone(),
            reader_urls: self.reader_urls.clone(),
            docs,
            duration: Duration::from_secs_f64(duration as f64),
            presence,
            verify: self.verify,
            drain: Duration::from_secs(10),
            settle: Duration::from_millis(if presence.is_some() { 2000 } else { 300 }),
            server: self.server_pid,
        }
    }

    fn record(&self, scenario: &str) -> Record {
        let dialect = serde_json::to_value(self.dialect)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        Record::new(scenario, &self.target, &dialect)
    }

    /// Runs a swarm over `docs` and records it as `scenario` with `params`.
    async fn swarm(
        &self,
        scenario: &str,
        docs: Vec<DocPlan>,
        duration: u64,
        presence: Option<Presence>,
        params: &[(&str, serde_json::Value)],
    ) -> Result<Record, String> {
        let outcome = crate::swarm::run(self.plan(docs, duration, presence))
            .await
            .map_err(|e| e.to_string())?;
        let mut r = self.record(scenario);
        for (key, value) in params {
            r.param(key, value.clone());
        }
        if !self.reader_urls.is_empty() {
            r.param("reader_nodes", self.reader_urls.len());
        }
        r.param("duration", duration);
        r.fill_swarm(&outcome);
        Ok(r)
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// One writer, N readers in one document.
    Fanout {
        #[command(flatten)]
        common: Common,
        /// Readers.
        #[arg(long, default_value_t = 1000)]
        readers: usize,
        /// Writer's edits per second.
        #[arg(long, default_value_t = 100.0)]
        rate: f64,
        /// Seconds of writing.
        #[arg(long, default_value_t = 10)]
        duration: u64,
    },
    /// Many documents, each with one writer and several readers.
    Rooms {
        #[command(flatten)]
        common: Common,
        /// Documents.
        #[arg(long, default_value_t = 1000)]
        docs: usize,
        /// Connections per document (one of them writes).
        #[arg(long, default_value_t = 10)]
        per_doc: usize,
        /// Edits per second per document.
        #[arg(long, default_value_t = 1.0)]
        rate_per_doc: f64,
        /// Seconds of writing.
        #[arg(long, default_value_t = 20)]
        duration: u64,
    },
    /// Server RSS per idle synced connection.
    Idle {
        #[command(flatten)]
        common: Common,
        /// Connections (10 per document).
        #[arg(long, default_value_t = 1000)]
        connections: usize,
        /// Seconds to wait after the last sync before measuring.
        #[arg(long, default_value_t = 3)]
        settle: u64,
    },
    /// Clients with awareness in one document while one writer edits.
    Presence {
        #[command(flatten)]
        common: Common,
        /// Clients in the document (besides the writer).
        #[arg(long, default_value_t = 500)]
        clients: usize,
        /// Writer's edits per second.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Awareness traffic on or off (the baseline run).
        #[arg(long, default_value = "on")]
        presence: OnOff,
        /// Seconds of writing.
        #[arg(long, default_value_t = 30)]
        duration: u64,
        /// Seconds between renewals of every client's state.
        #[arg(long, default_value_t = 15)]
        renew_secs: u64,
        /// Percent of clients moving a cursor once a second.
        #[arg(long, default_value_t = 10)]
        movers_pct: u32,
    },
    /// Many writers into one document with readers.
    Writers {
        #[command(flatten)]
        common: Common,
        /// Writers.
        #[arg(long, default_value_t = 50)]
        writers: usize,
        /// Edits per second of each writer.
        #[arg(long, default_value_t = 20.0)]
        rate_per_writer: f64,
        /// Readers.
        #[arg(long, default_value_t = 200)]
        readers: usize,
        /// Seconds of writing.
        #[arg(long, default_value_t = 20)]
        duration: u64,
    },
    /// Acknowledged-durable updates per second (GoOnline's native dialect).
    Durable {
        #[command(flatten)]
        common: Common,
        /// Writers, one document each.
        #[arg(long, default_value_t = 32)]
        writers: usize,
        /// Unacknowledged updates each writer keeps in flight.
        #[arg(long, default_value_t = 64)]
        window: usize,
        /// Updates prepared per writer (a writer stops when they run out).
        #[arg(long, default_value_t = 40_000)]
        per_writer: usize,
        /// Seconds of writing.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Label of the store (sqlite or postgres) in the results.
        #[arg(long, default_value = "sqlite")]
        backend: String,
    },
    /// Time and peak RSS to open a logged and a compacted document (starts goonline).
    Coldload {
        /// The goonline binary.
        #[arg(long)]
        goonline_bin: String,
        /// Database URL for the servers it starts.
        #[arg(long)]
        database_url: String,
        /// Updates logged before the first open.
        #[arg(long, default_value_t = 10_000)]
        updates: usize,
        /// Label of the store (sqlite or postgres) in the results.
        #[arg(long, default_value = "sqlite")]
        backend: String,
        /// Append the JSON records to this file.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Chat events to N subscribers of one channel (GoOnline or the floor).
    TopicsFanout(crate::topics::FanoutArgs),
    /// Replay of a channel's long history, over the socket and over REST.
    TopicsReplay(crate::topics::ReplayArgs),
    /// Markdown tables of the topic records of a JSON-lines results file.
    TopicsReport {
        /// The results file.
        file: std::path::PathBuf,
    },
    /// Markdown tables with ratios from a JSON-lines results file.
    Report {
        /// The results file.
        file: std::path::PathBuf,
    },
}

/// on / off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// Runs a scenario; returns the records to print (empty for `report`, which
/// prints itself) and where to append them.
pub async fn run(s: Scenario) -> Result<(Vec<Record>, Option<std::path::PathBuf>), String> {
    let (records, out) = match s {
        Scenario::Fanout {
            common,
            readers,
            rate,
            duration,
        } => {
            let docs = vec![DocPlan {
                name: format!("{}-fanout", common.prefix()),
                writer_rates: vec![rate],
                readers,
            }];
            let r = common
                .swarm(
                    "fanout",
                    docs,
                    duration,
                    None,
                    &[("readers", readers.into()), ("rate", rate.into())],
                )
                .await?;
            (vec![r], common.out)
        }
        Scenario::Rooms {
            common,
            docs,
            per_doc,
            rate_per_doc,
            duration,
        } => {
            let prefix = common.prefix();
            let plans = (0..docs)
                .map(|d| DocPlan {
                    name: format!("{prefix}-room-{d}"),
                    writer_rates: vec![rate_per_doc],
                    readers: per_doc.saturating_sub(1),
                })
                .collect();
            let params = [
                ("docs", docs.into()),
                ("per_doc", per_doc.into()),
                ("rate_per_doc", rate_per_doc.into()),
            ];
            let mut r = common
                .swarm("rooms", plans, duration, None, &params)
                .await?;
            r.connections = Some((docs * per_doc) as u64);
            (vec![r], common.out)
        }
        Scenario::Presence {
            common,
            clients,
            rate,
            presence,
            duration,
            renew_secs,
            movers_pct,
        } => {
            let docs = vec![DocPlan {
                name: format!("{}-presence", common.prefix()),
                writer_rates: vec![rate],
                readers: clients,
            }];
            let p = (presence == OnOff::On).then_some(Presence {
                renew: Duration::from_secs(renew_secs.max(1)),
                movers_pct,
            });
            let params = [
                ("clients", clients.into()),
                ("rate", rate.into()),
                ("presence", if p.is_some() { "on" } else { "off" }.into()),
                ("renew_secs", renew_secs.into()),
                ("movers_pct", movers_pct.into()),
            ];
            let r = common.swarm("presence", docs, duration, p, &params).await?;
            (vec![r], common.out)
        }
        Scenario::Writers {
            common,
            writers,
            rate_per_writer,
            readers,
            duration,
        } => {
            let docs = vec![DocPlan {
                name: format!("{}-writers", common.prefix()),
                writer_rates: vec![rate_per_writer; writers],
                readers,
            }];
            let params = [
                ("writers", writers.into()),
                ("rate_per_writer", rate_per_writer.into()),
                ("readers", readers.into()),
            ];
            let r = common
                .swarm("writers", docs, duration, None, &params)
                .await?;
            (vec![r], common.out)
        }
        Scenario::Idle {
            common,
            connections,
            settle,
        } => {
            let pid = common.server_pid.ok_or("idle needs --server-pid")?;
            let o = crate::idle::run(
                common.dialect,
                &common.url,
                &common.prefix(),
                connections,
                Duration::from_secs(settle),
                pid,
            )
            .await
            .map_err(|e| e.to_string())?;
            let mut r = common.record("idle");
            r.param("connections", connections).param("settle", settle);
            r.connections = Some(o.connections);
            r.rss_before_kb = Some(o.rss_before_kb);
            r.rss_after_kb = Some(o.rss_after_kb);
            r.server_rss_kb = Some(o.rss_after_kb);
            r.rss_per_conn_kb = Some(
                o.rss_after_kb.saturating_sub(o.rss_before_kb) as f64 / o.connections.max(1) as f64,
            );
            r.ok = o.dropped == 0;
            if o.dropped > 0 {
                r.error = Some(format!(
                    "{} connections closed before the measurement",
                    o.dropped
                ));
            }
            (vec![r], common.out)
        }
        Scenario::Durable {
            common,
            writers,
            window,
            per_writer,
            duration,
            backend,
        } => {
            if common.dialect != Dialect::Native {
                return Err("durable needs --dialect native (acks of durable updates)".into());
            }
            let o = crate::durable::run(
                &common.url,
                &common.prefix(),
                writers,
                window.max(1),
                per_writer,
                Duration::from_secs(duration),
                common.server_pid,
            )
            .await;
            let mut r = common.record("durable");
            r.param("writers", writers)
                .param("window", window)
                .param("duration", duration);
            r.backend = Some(backend);
            r.acked_per_sec = Some(o.acked as f64 / o.elapsed.as_secs_f64().max(1e-9));
            r.latency_ms = Some(o.latency.percentiles());
            if let Some((_, pct)) = o.server_cpu {
                r.server_cpu_pct = Some(pct);
            }
            r.loadgen_cpu_pct = o.loadgen_cpu_pct;
            r.ok = o.errors.is_empty();
            if !o.errors.is_empty() {
                r.error = Some(o.errors.join("; "));
            }
            (vec![r], common.out)
        }
        Scenario::Coldload {
            goonline_bin,
            database_url,
            updates,
            backend,
            out,
        } => {
            let doc = format!("lg{:08x}-cold", rand_u32());
            let mut records = Vec::new();
            match crate::coldload::run(&goonline_bin, &database_url, &doc, updates).await {
                Ok(opens) => {
                    for o in opens {
                        let mut r = Record::new("coldload", "goonline", "yws");
                        r.param("updates", updates);
                        r.backend = Some(backend.clone());
                        r.variant = Some(o.variant);
                        r.load_ms = Some(o.load_ms);
                        r.peak_rss_kb = Some(o.peak_rss_kb);
                        r.rss_before_kb = Some(o.rss_before_kb);
                        r.ok = true;
                        records.push(r);
                    }
                }
                Err(e) => {
                    let mut r = Record::new("coldload", "goonline", "yws");
                    r.param("updates", updates);
                    r.backend = Some(backend);
                    r.error = Some(e);
                    records.push(r);
                }
            }
            (records, out)
        }
        Scenario::TopicsFanout(a) => (crate::topics::run_fanout(&a).await?, a.out),
        Scenario::TopicsReplay(a) => (crate::topics::run_replay(&a).await?, a.out),
        Scenario::TopicsReport { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            print!("{}", crate::topics::report::render(&text));
            (Vec::new(), None)
        }
        Scenario::Report { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            print!("{}", crate::report::render(&text));
            (Vec::new(), None)
        }
    };
    Ok((records, out))
}
