//! `topics-report FILE`: the topic records of a results file as Markdown
//! tables, ratios first. Fan-out: GoOnline ÷ floor for the k-th GoOnline and
//! the k-th floor run of the same cell (runs are made in pairs, and ratios
//! are never taken across pairs). Replay: socket ÷ REST of the same round,
//! same server.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::record::Record;

fn x(r: &Record, key: &str) -> Option<f64> {
    r.extra.get(key).and_then(serde_json::Value::as_f64)
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}×", a / b),
        _ => "–".into(),
    }
}

fn f2(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.2}"))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// One line about a replay record, for stderr.
pub fn replay_line(r: &Record) -> String {
    let mut s = format!(
        "topics-replay {} [{}] round {}: {:.0} events in {:.0} ms, {:.0} events/s, {:.2} MB/s",
        r.variant.as_deref().unwrap_or("?"),
        r.backend.as_deref().unwrap_or("?"),
        r.params
            .get("round")
            .map_or(String::new(), |v| v.to_string()),
        x(r, "events_received").unwrap_or(0.0),
        r.load_ms.unwrap_or(0.0),
        x(r, "events_per_sec").unwrap_or(0.0),
        x(r, "mb_per_sec").unwrap_or(0.0),
    );
    if let Some(v) = x(r, "server_cpu_us_per_event") {
        let _ = write!(s, ", server {v:.2} µs/event");
    }
    if let Some(e) = &r.error {
        let _ = write!(s, "; ERROR: {e}");
    }
    s
}

fn cell(r: &Record) -> String {
    let p = |k: &str| r.params.get(k).map_or("?".into(), |v| v.to_string());
    let writers = r
        .params
        .get("writers")
        .and_then(|v| v.as_u64())
        .unwrap_or(1);
    format!(
        "{} subscribers × {} msg/s ({writers} writer{}), {} s, {}-char bodies",
        p("subscribers"),
        p("rate"),
        if writers == 1 { "" } else { "s" },
        p("duration"),
        p("body_bytes")
    )
}

fn losses(r: &Record) -> String {
    format!(
        "{} / {} / {}",
        r.missing.unwrap_or(0),
        r.duplicates.unwrap_or(0),
        x(r, "out_of_order").unwrap_or(0.0)
    )
}

fn fanout(records: &[&Record], out: &mut String) {
    let mut cells: BTreeMap<String, (Vec<&Record>, Vec<&Record>)> = BTreeMap::new();
    for r in records {
        let e = cells.entry(cell(r)).or_default();
        if r.target == "floor" {
            &mut e.1
        } else {
            &mut e.0
        }
        .push(r);
    }
    for (name, (gol, floor)) in &cells {
        let _ = writeln!(out, "### Fan-out: {name}\n");
        let _ = writeln!(
            out,
            "| pair | p50 ÷ floor | p99 ÷ floor | CPU per delivery ÷ floor |\n| --- | --- | --- | --- |"
        );
        let pairs: Vec<(&Record, &Record)> =
            gol.iter().copied().zip(floor.iter().copied()).collect();
        for (i, (g, f)) in pairs.iter().enumerate() {
            let (gl, fl) = (
                g.latency_ms.unwrap_or_default(),
                f.latency_ms.unwrap_or_default(),
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                i + 1,
                ratio(Some(gl.p50), Some(fl.p50)),
                ratio(Some(gl.p99), Some(fl.p99)),
                ratio(g.server_cpu_us_per_delivery, f.server_cpu_us_per_delivery),
            );
        }
        let _ = writeln!(
            out,
            "\n| pair | server | p50 / p99 / max ms | deliveries/s | server CPU % | µs per delivery | missing / dup / out of order | bytes per frame | chat.send reply p50 / p99 ms | loadgen CPU % |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        for (i, (g, f)) in pairs.iter().enumerate() {
            for r in [g, f] {
                let l = r.latency_ms.unwrap_or_default();
                let reply = r.extra.get("send_reply_ms").map_or("–".into(), |v| {
                    format!("{} / {}", f2(v["p50"].as_f64()), f2(v["p99"].as_f64()))
                });
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} / {:.2} / {:.1} | {:.0} | {:.1} | {} | {} | {:.0} | {reply} | {:.0} |",
                    i + 1,
                    r.target,
                    l.p50,
                    l.p99,
                    l.max,
                    r.deliveries_per_sec.unwrap_or(0.0),
                    r.server_cpu_pct.unwrap_or(0.0),
                    f2(r.server_cpu_us_per_delivery),
                    losses(r),
                    x(r, "frame_bytes").unwrap_or(0.0),
                    r.loadgen_cpu_pct.unwrap_or(0.0),
                );
            }
        }
        let _ = writeln!(out);
    }
}

/// A round's socket and REST records.
type RoundPair<'a> = (Option<&'a Record>, Option<&'a Record>);

fn replay(records: &[&Record], out: &mut String) {
    let mut by_backend: BTreeMap<String, BTreeMap<String, RoundPair<'_>>> = BTreeMap::new();
    for r in records {
        let round = r.params.get("round").map_or("?".into(), |v| v.to_string());
        let e = by_backend
            .entry(r.backend.clone().unwrap_or_default())
            .or_default()
            .entry(format!("{round:>4}"))
            .or_default();
        if r.variant.as_deref() == Some("rest") {
            e.1 = Some(r);
        } else {
            e.0 = Some(r);
        }
    }
    for (backend, rounds) in &by_backend {
        let events = records
            .iter()
            .find(|r| r.backend.as_deref() == Some(backend))
            .and_then(|r| r.params.get("events"))
            .map_or("?".into(), |v| v.to_string());
        let _ = writeln!(out, "### Replay of {events} events, {backend}\n");
        let _ = writeln!(
            out,
            "| round | events/s socket ÷ REST | server CPU per event socket ÷ REST | socket: time, events/s, MB/s, server µs/event | REST: time, events/s, MB/s, server µs/event |\n\
             | --- | --- | --- | --- | --- |"
        );
        let (mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
        for (round, (s, r)) in rounds {
            let side = |r: Option<&Record>| {
                r.map_or("–".into(), |r| {
                    let mut t = format!(
                        "{:.0} ms, {:.0}, {:.2}, {}",
                        r.load_ms.unwrap_or(0.0),
                        x(r, "events_per_sec").unwrap_or(0.0),
                        x(r, "mb_per_sec").unwrap_or(0.0),
                        f2(x(r, "server_cpu_us_per_event"))
                    );
                    if r.error.is_some() {
                        t.push_str(" (error)");
                    }
                    t
                })
            };
            let eps = |r: Option<&Record>| r.and_then(|r| x(r, "events_per_sec"));
            let cpu = |r: Option<&Record>| r.and_then(|r| x(r, "server_cpu_us_per_event"));
            if let (Some(a), Some(b)) = (eps(*s), eps(*r))
                && b > 0.0
            {
                ratios.push(a / b);
            }
            if let (Some(a), Some(b)) = (cpu(*s), cpu(*r))
                && b > 0.0
            {
                cpu_ratios.push(a / b);
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                round.trim(),
                ratio(eps(*s), eps(*r)),
                ratio(cpu(*s), cpu(*r)),
                side(*s),
                side(*r)
            );
        }
        let _ = writeln!(
            out,
            "| median | {} | {} | | |\n",
            median(ratios).map_or("–".into(), |v| format!("{v:.2}×")),
            median(cpu_ratios).map_or("–".into(), |v| format!("{v:.2}×")),
        );
    }
}

/// The topic sections of a results file.
pub fn render(jsonl: &str) -> String {
    let records: Vec<Record> = jsonl
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let mut out = String::new();
    let fan: Vec<&Record> = records
        .iter()
        .filter(|r| r.scenario == "topics-fanout")
        .collect();
    let rep: Vec<&Record> = records
        .iter()
        .filter(|r| r.scenario == "topics-replay")
        .collect();
    if let Some(r) = records.first() {
        let _ = writeln!(out, "Machine: {}; first run at {}.\n", r.machine, r.at);
    }
    fanout(&fan, &mut out);
    replay(&rep, &mut out);
    let errors: Vec<&&Record> = fan
        .iter()
        .chain(&rep)
        .filter(|r| r.error.is_some())
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "### Problems reported by the runs\n");
        for r in errors {
            let _ = writeln!(
                out,
                "- {} {} {}: {}",
                r.scenario,
                r.target,
                r.variant.as_deref().unwrap_or(""),
                r.error.as_deref().unwrap_or("")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Percentiles;

    fn fan(target: &str, p50: f64, cpu: f64) -> String {
        let mut r = Record::new("topics-fanout", target, "native");
        r.param("subscribers", 1000).param("rate", 50.0);
        r.latency_ms = Some(Percentiles {
            p50,
            p99: p50 * 2.0,
            ..Percentiles::default()
        });
        r.server_cpu_us_per_delivery = Some(cpu);
        serde_json::to_string(&r).unwrap()
    }

    fn rep(variant: &str, eps: f64) -> String {
        let mut r = Record::new("topics-replay", "goonline", "native");
        r.param("round", 1).param("events", 100);
        r.backend = Some("sqlite".into());
        r.variant = Some(variant.into());
        r.extra("events_per_sec", eps);
        serde_json::to_string(&r).unwrap()
    }

    #[test]
    fn ratios_pair_runs_of_the_same_cell() {
        let lines = [
            fan("goonline", 4.0, 6.0),
            fan("floor", 2.0, 3.0),
            rep("socket", 300.0),
            rep("rest", 100.0),
        ]
        .join("\n");
        let md = render(&lines);
        assert!(md.contains("| 1 | 2.00× | 2.00× | 2.00× |"), "{md}");
        assert!(md.contains("| median | 3.00× |"), "{md}");
    }
}
