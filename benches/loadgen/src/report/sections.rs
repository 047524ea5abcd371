//! One Markdown section per scenario, each adding its rows and target checks.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Checks, FLOOR, GOONLINE, PEERS, best_peer, column, lost, ms, num, p, ratio};
use crate::record::Record;

/// Records of one scenario grouped by a parameter key, then by column.
fn grouped(
    records: &[Record],
    scenario: &str,
    key: impl Fn(&Record) -> String,
) -> BTreeMap<String, BTreeMap<String, Record>> {
    let mut g: BTreeMap<String, BTreeMap<String, Record>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.scenario == scenario) {
        g.entry(key(r)).or_default().insert(column(r), r.clone());
    }
    g
}

fn targets_in(g: &BTreeMap<String, BTreeMap<String, Record>>) -> Vec<String> {
    let order = [GOONLINE, "goonline/hocus", FLOOR, PEERS[0], PEERS[1]];
    order
        .iter()
        .filter(|t| g.values().any(|row| row.contains_key(**t)))
        .map(|t| t.to_string())
        .collect()
}

pub(super) fn fanout(records: &[Record], out: &mut String, checks: &mut Checks) {
    let g = grouped(records, "fanout", |r| {
        format!(
            "{:>6} {:>6}",
            num(r, "readers") as u64,
            num(r, "rate") as u64
        )
    });
    if g.is_empty() {
        return;
    }
    let cols = targets_in(&g);
    let _ = writeln!(out, "## 1. Fan-out: one writer, N readers, one document\n");
    let _ = writeln!(
        out,
        "p99 latency (ms) / server CPU per delivered edit (µs) / edits per frame / lost:\n"
    );
    let _ = write!(out, "| readers | edits/s |");
    for c in &cols {
        let _ = write!(out, " {c} |");
    }
    let _ = writeln!(
        out,
        " p99 ÷ floor | p99 ÷ better peer | CPU ÷ floor | CPU ÷ better peer |"
    );
    let _ = writeln!(out, "|{}", " --- |".repeat(2 + cols.len() + 4));
    for (key, row) in &g {
        let mut it = key.split_whitespace();
        let (readers, rate) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
        let _ = write!(out, "| {readers} | {rate} |");
        for c in &cols {
            match row.get(c) {
                Some(r) => {
                    let _ = write!(
                        out,
                        " {} / {} / {} / {} |",
                        ms(r.latency_ms.map(|l| l.p99)),
                        ms(r.server_cpu_us_per_delivery),
                        r.edits_per_frame.map_or("–".into(), |v| format!("{v:.1}")),
                        lost(r)
                    );
                }
                None => {
                    let _ = write!(out, " |");
                }
            }
        }
        let g_p99 = row.get(GOONLINE).and_then(|r| r.latency_ms.map(|l| l.p99));
        let g_cpu = row.get(GOONLINE).and_then(|r| r.server_cpu_us_per_delivery);
        let f_p99 = row.get(FLOOR).and_then(|r| r.latency_ms.map(|l| l.p99));
        let f_cpu = row.get(FLOOR).and_then(|r| r.server_cpu_us_per_delivery);
        let bp_p99 = best_peer(row, |r| r.latency_ms.map(|l| l.p99));
        let bp_cpu = best_peer(row, |r| r.server_cpu_us_per_delivery);
        let _ = writeln!(
            out,
            " {} | {} | {} | {} |",
            ratio(g_p99, f_p99),
            ratio(g_p99, bp_p99.map(|b| b.0)),
            ratio(g_cpu, f_cpu),
            ratio(g_cpu, bp_cpu.map(|b| b.0))
        );
        if readers == "1000"
            && let Some(gr) = row.get(GOONLINE)
        {
            let none_lost = gr.missing == Some(0) && gr.error.is_none();
            let p99_ok = match (g_p99, f_p99, bp_p99) {
                (Some(g), Some(f), bp) => Some(g <= 1.3 * f && bp.is_none_or(|b| g <= b.0)),
                _ => None,
            };
            checks.add(
                format!("fan-out 1,000 readers at {rate}/s: nothing lost"),
                Some(none_lost),
            );
            checks.add(
                format!("fan-out 1,000 readers at {rate}/s: p99 ≤ 1.3× floor and ≤ better peer"),
                p99_ok,
            );
            let cpu_ok = match (g_cpu, f_cpu, bp_cpu) {
                (Some(g), f, bp) => {
                    let vs_floor = if rate == "10" {
                        f.map(|f| g <= 1.3 * f)
                    } else {
                        Some(true)
                    };
                    vs_floor.map(|v| v && bp.is_none_or(|b| g < b.0))
                }
                _ => None,
            };
            let what = if rate == "10" {
                "≤ 1.3× floor and below better peer"
            } else {
                "below better peer"
            };
            checks.add(
                format!("fan-out 1,000 readers at {rate}/s: CPU per delivery {what}"),
                cpu_ok,
            );
        }
    }
    let lg: Vec<String> = g
        .values()
        .flat_map(|row| row.values())
        .filter_map(|r| r.loadgen_cpu_pct.map(|v| (v, r)))
        .map(|(v, r)| {
            format!(
                "{} {}×{}: {v:.0}%",
                column(r),
                p(r, "readers"),
                p(r, "rate")
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\nLoad generator's own CPU (% of one core, of 200% on this machine): {}\n",
        lg.join(", ")
    );
}

pub(super) fn rooms(records: &[Record], out: &mut String, checks: &mut Checks) {
    let g = grouped(records, "rooms", |r| {
        format!("{}x{}", p(r, "docs"), p(r, "per_doc"))
    });
    for (key, row) in &g {
        let _ = writeln!(
            out,
            "## 2. Many rooms: {key} connections (docs × per doc), 1 edit/s per doc\n"
        );
        let _ = writeln!(
            out,
            "| server | p50 ms | p99 ms | server CPU % | server RSS MB | lost | loadgen CPU % |\n| --- | --- | --- | --- | --- | --- | --- |"
        );
        for (c, r) in row {
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {:.1} | {:.1} | {} | {:.0} |",
                ms(r.latency_ms.map(|l| l.p50)),
                ms(r.latency_ms.map(|l| l.p99)),
                r.server_cpu_pct.unwrap_or(f64::NAN),
                r.server_rss_kb.map_or(f64::NAN, |v| v as f64 / 1024.0),
                lost(r),
                r.loadgen_cpu_pct.unwrap_or(f64::NAN)
            );
        }
        let Some(gr) = row.get(GOONLINE) else {
            continue;
        };
        let g_p99 = gr.latency_ms.map(|l| l.p99);
        let bp_p99 = best_peer(row, |r| r.latency_ms.map(|l| l.p99));
        let bp_rss = best_peer(row, |r| r.server_rss_kb.map(|v| v as f64));
        let bp_cpu = best_peer(row, |r| r.server_cpu_pct);
        let _ = writeln!(
            out,
            "\nGoOnline ÷ better peer: p99 {}, RSS {}, CPU {}.\n",
            ratio(g_p99, bp_p99.map(|b| b.0)),
            ratio(gr.server_rss_kb.map(|v| v as f64), bp_rss.map(|b| b.0)),
            ratio(gr.server_cpu_pct, bp_cpu.map(|b| b.0))
        );
        checks.add(
            "many rooms: nothing lost".into(),
            Some(gr.missing == Some(0) && gr.error.is_none()),
        );
        checks.add(
            "many rooms: p99 below the better peer".into(),
            g_p99.zip(bp_p99).map(|(g, b)| g < b.0),
        );
        checks.add(
            "many rooms: RSS ≤ 1/4 of the better peer".into(),
            gr.server_rss_kb
                .zip(bp_rss)
                .map(|(g, b)| g as f64 <= b.0 / 4.0),
        );
        checks.add(
            "many rooms: CPU ≤ 1/2 of the better peer".into(),
            gr.server_cpu_pct.zip(bp_cpu).map(|(g, b)| g <= b.0 / 2.0),
        );
    }
}

pub(super) fn idle(records: &[Record], out: &mut String, checks: &mut Checks) {
    let g = grouped(records, "idle", |r| {
        format!("{:>6}", num(r, "connections") as u64)
    });
    if g.is_empty() {
        return;
    }
    let cols = targets_in(&g);
    let _ = writeln!(
        out,
        "## 3. Idle footprint: server RSS per idle synced connection (kB)\n"
    );
    let _ = write!(out, "| connections |");
    for c in &cols {
        let _ = write!(out, " {c} |");
    }
    let _ = writeln!(out, " GoOnline ÷ floor | GoOnline ÷ better peer |");
    let _ = writeln!(out, "|{}", " --- |".repeat(1 + cols.len() + 2));
    for (n, row) in &g {
        let _ = write!(out, "| {} |", n.trim());
        for c in &cols {
            let v = row.get(c).and_then(|r| r.rss_per_conn_kb);
            let flag = row.get(c).is_some_and(|r| r.error.is_some());
            let _ = write!(
                out,
                " {}{} |",
                v.map_or("–".into(), |v| format!("{v:.2}")),
                if flag { " (error)" } else { "" }
            );
        }
        let gv = row.get(GOONLINE).and_then(|r| r.rss_per_conn_kb);
        let _ = writeln!(
            out,
            " {} | {} |",
            ratio(gv, row.get(FLOOR).and_then(|r| r.rss_per_conn_kb)),
            ratio(gv, best_peer(row, |r| r.rss_per_conn_kb).map(|b| b.0))
        );
        if n.trim() == "10000" {
            checks.add(
                "idle: ≤ 4 kB RSS per connection at 10,000".into(),
                gv.map(|v| v <= 4.0),
            );
        }
    }
    let _ = writeln!(out);
}

pub(super) fn presence(records: &[Record], out: &mut String, checks: &mut Checks) {
    let g = grouped(records, "presence", |r| p(r, "presence"));
    let (Some(on), off) = (g.get("on"), g.get("off")) else {
        return;
    };
    let _ = writeln!(
        out,
        "## 4. Presence: 500 clients with awareness in one document, one writer at 10 edits/s\n"
    );
    let _ = writeln!(
        out,
        "| server | edit p99, presence on (ms) | edit p99, off (ms) | on ÷ off | server CPU % on | CPU % off | awareness frames/s | client states/s | lost |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    for (c, r) in on {
        let off_r = off.and_then(|o| o.get(c));
        let p_on = r.latency_ms.map(|l| l.p99);
        let p_off = off_r.and_then(|o| o.latency_ms.map(|l| l.p99));
        let _ = writeln!(
            out,
            "| {c} | {} | {} | {} | {:.1} | {} | {:.0} | {:.0} | {} |",
            ms(p_on),
            ms(p_off),
            ratio(p_on, p_off),
            r.server_cpu_pct.unwrap_or(f64::NAN),
            off_r
                .and_then(|o| o.server_cpu_pct)
                .map_or("–".into(), |v| format!("{v:.1}")),
            r.awareness_per_sec.unwrap_or(0.0),
            r.awareness_states_per_sec.unwrap_or(0.0),
            lost(r)
        );
    }
    if let Some(gr) = on.get(GOONLINE) {
        let p_on = gr.latency_ms.map(|l| l.p99);
        let p_off = off
            .and_then(|o| o.get(GOONLINE))
            .and_then(|o| o.latency_ms.map(|l| l.p99));
        let bp_cpu = best_peer(on, |r| r.server_cpu_pct);
        let _ = writeln!(
            out,
            "\nGoOnline CPU ÷ better peer: {}.\n",
            ratio(gr.server_cpu_pct, bp_cpu.map(|b| b.0))
        );
        checks.add(
            "presence: edit p99 on ≤ 1.3× off".into(),
            p_on.zip(p_off).map(|(a, b)| a <= 1.3 * b),
        );
        checks.add(
            "presence: CPU ≤ 1/2 of the better peer".into(),
            gr.server_cpu_pct.zip(bp_cpu).map(|(g, b)| g <= b.0 / 2.0),
        );
    }
}

pub(super) fn writers(records: &[Record], out: &mut String, checks: &mut Checks) {
    let g = grouped(records, "writers", |r| {
        format!(
            "{} × {}/s, {} readers",
            p(r, "writers"),
            p(r, "rate_per_writer"),
            p(r, "readers")
        )
    });
    for (key, row) in &g {
        let _ = writeln!(out, "## 5. Many writers: {key}, one document\n");
        let _ = writeln!(
            out,
            "| server | p50 ms | p99 ms | max ms | server CPU % | edits/frame | lost |\n| --- | --- | --- | --- | --- | --- | --- |"
        );
        for (c, r) in row {
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {} | {:.1} | {} | {} |",
                ms(r.latency_ms.map(|l| l.p50)),
                ms(r.latency_ms.map(|l| l.p99)),
                ms(r.latency_ms.map(|l| l.max)),
                r.server_cpu_pct.unwrap_or(f64::NAN),
                r.edits_per_frame.map_or("–".into(), |v| format!("{v:.1}")),
                lost(r)
            );
        }
        let Some(gr) = row.get(GOONLINE) else {
            continue;
        };
        let g_p99 = gr.latency_ms.map(|l| l.p99);
        let bp_p99 = best_peer(row, |r| r.latency_ms.map(|l| l.p99));
        let bp_cpu = best_peer(row, |r| r.server_cpu_pct);
        let _ = writeln!(
            out,
            "\nGoOnline ÷ better peer: p99 {}, CPU {}.\n",
            ratio(g_p99, bp_p99.map(|b| b.0)),
            ratio(gr.server_cpu_pct, bp_cpu.map(|b| b.0))
        );
        checks.add(
            "many writers: p99 ≤ 1/2 of the better peer".into(),
            g_p99.zip(bp_p99).map(|(g, b)| g <= b.0 / 2.0),
        );
        checks.add(
            "many writers: CPU below the better peer".into(),
            gr.server_cpu_pct.zip(bp_cpu).map(|(g, b)| g < b.0),
        );
    }
}

pub(super) fn durable(records: &[Record], out: &mut String, checks: &mut Checks) {
    let rows: Vec<&Record> = records.iter().filter(|r| r.scenario == "durable").collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## 6. Durable write throughput (GoOnline; the peers do not acknowledge durability)\n"
    );
    let _ = writeln!(
        out,
        "| store | writers × window | acked updates/s | ack p50 ms | ack p99 ms | server CPU % | loadgen CPU % |\n| --- | --- | --- | --- | --- | --- | --- |"
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "| {} | {} × {} | {:.0} | {} | {} | {:.0} | {:.0} |",
            r.backend.as_deref().unwrap_or("?"),
            p(r, "writers"),
            p(r, "window"),
            r.acked_per_sec.unwrap_or(0.0),
            ms(r.latency_ms.map(|l| l.p50)),
            ms(r.latency_ms.map(|l| l.p99)),
            r.server_cpu_pct.unwrap_or(f64::NAN),
            r.loadgen_cpu_pct.unwrap_or(f64::NAN)
        );
        let (want, name) = match r.backend.as_deref() {
            Some("postgres") => (10_000.0, "Postgres ≥ 10,000"),
            _ => (20_000.0, "SQLite ≥ 20,000"),
        };
        checks.add(
            format!("durable: {name} acked updates/s"),
            Some(r.error.is_none() && r.acked_per_sec.unwrap_or(0.0) >= want),
        );
    }
    let _ = writeln!(out);
}

pub(super) fn coldload(records: &[Record], out: &mut String) {
    let rows: Vec<&Record> = records
        .iter()
        .filter(|r| r.scenario == "coldload")
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## 7. Cold load (GoOnline; the peers keep nothing)\n");
    let _ = writeln!(
        out,
        "| store | updates written | stored as | open time ms | peak RSS MB | RSS before open MB |\n| --- | --- | --- | --- | --- | --- |"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} | {:.1} |",
            r.backend.as_deref().unwrap_or("?"),
            p(r, "updates"),
            r.variant
                .as_deref()
                .unwrap_or(r.error.as_deref().unwrap_or("?")),
            ms(r.load_ms),
            r.peak_rss_kb.map_or(f64::NAN, |v| v as f64 / 1024.0),
            r.rss_before_kb.map_or(f64::NAN, |v| v as f64 / 1024.0)
        );
    }
    let _ = writeln!(out);
}
