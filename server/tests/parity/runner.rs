//! Parity cases (one call at both doors, or twin calls on twin targets) and the
//! runner that makes both calls and records every disagreement.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use serde_json::Value;

use crate::accounts::Who;
use crate::doors::{Outcome, Sockets, rest, status_of};
use crate::normalize::normalize_outcome;

/// One door's half of a case.
#[derive(Debug, Clone)]
pub struct Side {
    pub who: Who,
    pub params: Value,
    pub key: Option<String>,
    /// Values of this side's target, and what they stand for.
    pub subs: Vec<(String, String)>,
}

impl Side {
    pub fn new(who: &Who, params: Value) -> Side {
        Side {
            who: who.clone(),
            params,
            key: None,
            subs: Vec::new(),
        }
    }

    /// `from` (this side's own target) stands for `to`.
    pub fn sub(mut self, from: &str, to: &str) -> Side {
        self.subs.push((from.to_string(), to.to_string()));
        self
    }
}

/// One parity case: the same call at both doors (or twin calls on twin
/// targets), and the outcome both must give (`"ok"` or an error code).
pub struct Case {
    pub what: String,
    pub method: &'static str,
    pub rest: Side,
    pub sock: Side,
    pub expect: &'static str,
    /// Twin targets: their timestamps differ too.
    pub loose: bool,
    /// Pointers to ids the call made (each door its own).
    pub new_ids: Vec<&'static str>,
}

impl Case {
    /// The very same call at both doors.
    pub fn same(
        what: &str,
        who: &Who,
        method: &'static str,
        params: Value,
        expect: &'static str,
    ) -> Case {
        let side = Side::new(who, params);
        Case {
            what: what.to_string(),
            method,
            rest: side.clone(),
            sock: side,
            expect,
            loose: false,
            new_ids: Vec::new(),
        }
    }

    /// Twin calls on twin targets.
    pub fn twins(
        what: &str,
        method: &'static str,
        rest: Side,
        sock: Side,
        expect: &'static str,
    ) -> Case {
        Case {
            what: what.to_string(),
            method,
            rest,
            sock,
            expect,
            loose: true,
            new_ids: Vec::new(),
        }
    }

    pub fn key(mut self, key: &str) -> Case {
        self.rest.key = Some(key.to_string());
        self.sock.key = Some(key.to_string());
        self
    }

    pub fn new_id(mut self, pointer: &'static str) -> Case {
        self.new_ids.push(pointer);
        self
    }
}

/// A row of a table of same-call cases: what, who, params, expected outcome.
type Row<'a> = (&'a str, &'a Who, Value, &'static str);

/// Runs cases at both doors and collects every disagreement.
pub struct Parity {
    pub addr: SocketAddr,
    pub label: &'static str,
    pub sockets: Sockets,
    pub covered: BTreeSet<String>,
    pub problems: Vec<String>,
    pub cases: usize,
}

impl Parity {
    /// Runs `case`; returns the (REST, socket) outcomes as they came.
    pub async fn run(&mut self, case: Case) -> (Outcome, Outcome) {
        self.cases += 1;
        self.covered.insert(case.method.to_string());
        let (r, s) = (&case.rest, &case.sock);
        // Signed in before the REST call: nothing happens between the two.
        self.sockets.ready(s.who.token.as_deref()).await;
        let (status, rest_out) = rest(
            self.addr,
            r.who.token.as_deref(),
            case.method,
            &r.params,
            r.key.as_deref(),
        )
        .await;
        let sock_out = self
            .sockets
            .call(
                s.who.token.as_deref(),
                case.method,
                &s.params,
                s.key.as_deref(),
            )
            .await;

        let mut trouble = Vec::new();
        if status != status_of(rest_out.code()) {
            trouble.push(format!(
                "REST status {status} does not go with code `{}`",
                rest_out.code()
            ));
        }
        for (door, out) in [("REST", &rest_out), ("socket", &sock_out)] {
            if out.code() != case.expect {
                trouble.push(format!(
                    "{door} gave `{}`, expected `{}`",
                    out.code(),
                    case.expect
                ));
            }
        }
        let subs = |side: &Side, out: &Outcome| {
            let mut subs = side.subs.clone();
            for p in &case.new_ids {
                if let Some(id) = out
                    .value()
                    .and_then(|v| v.pointer(p))
                    .and_then(Value::as_str)
                {
                    subs.push((id.to_string(), "<new id>".to_string()));
                }
            }
            subs
        };
        let a = normalize_outcome(&rest_out, &subs(r, &rest_out), case.loose);
        let b = normalize_outcome(&sock_out, &subs(s, &sock_out), case.loose);
        if a != b {
            trouble.push(format!(
                "the doors disagree (normalized):\n      REST   {a:?}\n      socket {b:?}"
            ));
        }
        if !trouble.is_empty() {
            self.problems.push(format!(
                "[{}] `{}`: {}\n  REST:   POST /api/ops/{} as {} body {} key {:?}\n  socket: call {} as {} params {} key {:?}\n  REST answered   {status} {rest_out:?}\n  socket answered {sock_out:?}\n  - {}",
                self.label,
                case.method,
                case.what,
                case.method,
                r.who.name,
                r.params,
                r.key,
                case.method,
                s.who.name,
                s.params,
                s.key,
                trouble.join("\n  - ")
            ));
        }
        (rest_out, sock_out)
    }

    /// Runs a table of same-call cases of `method`.
    pub async fn table(&mut self, method: &'static str, rows: Vec<Row<'_>>) {
        for (what, who, params, expect) in rows {
            self.run(Case::same(what, who, method, params, expect))
                .await;
        }
    }
}
