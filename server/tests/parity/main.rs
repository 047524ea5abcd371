//! The two doors of every operation, on SQLite and Postgres: REST
//! (`POST /api/ops/{method}` with a bearer token) and the native socket (`call`
//! on a connection signed in as the same user) must answer the same input with
//! the same result or the same error (`docs/protocol.md` §9.1).
//!
//! - `every_operation_gives_the_same_answer_over_rest_and_the_socket` walks a
//!   table of cases — successful reads and writes, refusals (`unauthorized`,
//!   `forbidden`, `not_found`, `conflict`) and invalid params — that must cover
//!   every operation the OpenAPI document lists. State-changing cases run on
//!   twin targets (two users, two businesses) so both doors succeed; their
//!   results are compared after the values that legitimately differ (the
//!   twins' ids and emails, new ids, timestamps, tokens) are normalized.
//! - `bad_input_on_every_operation_is_a_named_invalid_argument_never_a_500`
//!   generates bad params from each operation's params schema in the OpenAPI
//!   document and sends them through both doors, as a caller allowed to call
//!   the operation: each must be `invalid_argument` naming the field.
//!
//! Layout: `doors` (REST, the socket, and what each answered), `normalize`
//! (what may legitimately differ), `accounts` (callers and setup calls),
//! `runner` (parity cases and the runner comparing both doors), `world` (the
//! shared setup), `cases` (the same-answer cases, one module per area),
//! `schema` and `bad_input` (bad params generated from the OpenAPI document).

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod bad_input;
mod cases;
mod doors;
mod normalize;
mod runner;
mod schema;
mod world;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use common::TestServer;
use common::http;
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::Value;

use bad_input::bad_input;
use cases::{
    business_reads_and_changes, chat, comments, demotion, door, endings, invitations, members,
    own_account, platform_admin, registration, sign_in_and_out, versions, webhooks, workspaces,
};
use doors::Sockets;
use runner::Parity;
use world::World;

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "battery staple horse";

/// A server whose sign-in limits do not get in the way of many sign-ins.
async fn server(db: TestDb) -> TestServer {
    TestServer::start(db, |a| {
        a.security.login_attempts_per_ip = 100_000;
        a.security.login_attempts_per_account = 100_000;
        // The webhook cases name a local endpoint.
        a.docs.webhook_allow_private_addresses = true;
    })
    .await
}

/// What went wrong, gathered over both backends so one report shows all.
#[derive(Default)]
struct Report {
    checked: usize,
    problems: Vec<String>,
}

impl Report {
    fn add(&mut self, checked: usize, problems: Vec<String>) {
        self.checked += checked;
        self.problems.extend(problems);
    }

    fn assert_clean(&self, what: &str) {
        assert!(
            self.problems.is_empty(),
            "{} of {} {what}:\n\n{}",
            self.problems.len(),
            self.checked,
            self.problems.join("\n\n")
        );
    }
}

/// The operation names the OpenAPI document lists at `/api/ops/{name}`.
fn operations(doc: &Value) -> BTreeSet<String> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .filter_map(|p| p.strip_prefix("/api/ops/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_gives_the_same_answer_over_rest_and_the_socket() {
    let report = Arc::new(Mutex::new(Report::default()));
    each_backend(|db: TestDb| {
        let report = report.clone();
        async move {
            let label = db.label;
            let server = server(db).await;
            let doc = http::get(server.addr, "/api/openapi.json", &[])
                .await
                .json();
            let w = World::build(&server).await;
            let mut p = Parity {
                addr: w.addr,
                label,
                sockets: Sockets::new(w.addr),
                covered: BTreeSet::new(),
                problems: Vec::new(),
                cases: 0,
            };
            // (Each part boxed: one async block this size overflows the stack.)
            let twins = Box::pin(registration(&mut p, &w)).await;
            Box::pin(own_account(&mut p, &w)).await;
            Box::pin(business_reads_and_changes(&mut p, &w)).await;
            Box::pin(chat(&mut p, &w)).await;
            Box::pin(comments(&mut p, &w)).await;
            Box::pin(door(&mut p, &w)).await;
            Box::pin(webhooks(&mut p, &w)).await;
            Box::pin(versions(&mut p, &w)).await;
            Box::pin(workspaces(&mut p, &w)).await;
            Box::pin(members(&mut p, &w, &twins)).await;
            Box::pin(invitations(&mut p, &w, &twins)).await;
            Box::pin(platform_admin(&mut p, &w, &twins)).await;
            Box::pin(sign_in_and_out(&mut p, &w, &twins)).await;
            Box::pin(endings(&mut p, &w, &twins)).await;
            Box::pin(demotion(&mut p, &w, &server)).await;

            // Every operation has a parity case.
            let listed = operations(&doc);
            let missing: Vec<&String> = listed.difference(&p.covered).collect();
            assert!(
                missing.is_empty(),
                "[{label}] operations without a parity case: {missing:?}"
            );
            assert!(listed.len() >= 23, "[{label}] {listed:?}");
            report.lock().expect("report").add(p.cases, p.problems);
            server.stop().await;
        }
    })
    .await;
    report
        .lock()
        .expect("report")
        .assert_clean("cases (on both backends) disagree or surprise");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_every_operation_is_a_named_invalid_argument_never_a_500() {
    let report = Arc::new(Mutex::new(Report::default()));
    each_backend(|db: TestDb| {
        let report = report.clone();
        async move {
            let (sent, problems) = Box::pin(bad_input(db)).await;
            report.lock().expect("report").add(sent, problems);
        }
    })
    .await;
    report
        .lock()
        .expect("report")
        .assert_clean("bad calls (on both backends) were answered wrongly");
}
