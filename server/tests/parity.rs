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

mod common;

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::http::{self, Response};
use common::{Peer, TestServer};
use goonline_engine::testing::{TestDb, each_backend};
use serde_json::{Map, Value, json};

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "battery staple horse";

/// A server whose sign-in limits do not get in the way of many sign-ins.
async fn server(db: TestDb) -> TestServer {
    TestServer::start(db, |a| {
        a.security.login_attempts_per_ip = 100_000;
        a.security.login_attempts_per_account = 100_000;
    })
    .await
}

// ---------------------------------------------------------------------------
// Outcomes and the two doors
// ---------------------------------------------------------------------------

/// What one door answered.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok(Value),
    Err {
        code: String,
        message: String,
        field: Option<String>,
        retry_after: Option<u64>,
    },
}

impl Outcome {
    /// `"ok"` or the error code.
    fn code(&self) -> &str {
        match self {
            Outcome::Ok(_) => "ok",
            Outcome::Err { code, .. } => code,
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            Outcome::Err { field, .. } => field.as_deref(),
            Outcome::Ok(_) => None,
        }
    }

    fn value(&self) -> Option<&Value> {
        match self {
            Outcome::Ok(v) => Some(v),
            Outcome::Err { .. } => None,
        }
    }

    /// A string inside the result, by JSON pointer.
    fn str_at(&self, pointer: &str) -> String {
        self.value()
            .and_then(|v| v.pointer(pointer))
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no string at {pointer} in {self:?}"))
            .to_string()
    }
}

/// The HTTP status REST must answer an error code with.
fn status_of(code: &str) -> u16 {
    match code {
        "ok" => 200,
        "invalid_argument" => 400,
        "unauthorized" => 401,
        "forbidden" => 403,
        "not_found" => 404,
        "conflict" => 409,
        "rate_limited" => 429,
        "unavailable" => 503,
        _ => 500,
    }
}

/// Reads a REST answer: the result on `200`, else the error body (whose shape
/// is checked: `{"error": {code, message, field?, retry_after?}}` and nothing
/// else).
fn rest_outcome(res: &Response) -> Outcome {
    let body = res.json();
    if res.status == 200 {
        return Outcome::Ok(body);
    }
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["error"], "error body shape: {body}");
    let e = body["error"].as_object().expect("error object");
    for k in e.keys() {
        assert!(
            ["code", "message", "field", "retry_after"].contains(&k.as_str()),
            "unexpected `{k}` in {body}"
        );
    }
    Outcome::Err {
        code: e["code"].as_str().expect("code").to_string(),
        message: e["message"].as_str().expect("message").to_string(),
        field: e
            .get("field")
            .map(|f| f.as_str().expect("field is a string").to_string()),
        retry_after: e.get("retry_after").map(|r| r.as_u64().expect("seconds")),
    }
}

/// Calls `method` over REST at `/api/ops/{method}`; `Null` params send no body.
async fn rest(
    addr: SocketAddr,
    token: Option<&str>,
    method: &str,
    params: &Value,
    key: Option<&str>,
) -> (u16, Outcome) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = Vec::new();
    if let Some(a) = &auth {
        headers.push(("Authorization", a));
    }
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    let path = format!("/api/ops/{method}");
    let res = if params.is_null() {
        http::request(addr, "POST", &path, &headers, None).await
    } else {
        http::json(addr, "POST", &path, &headers, params).await
    };
    (res.status, rest_outcome(&res))
}

/// Native sockets, one per token (and one anonymous), opened on first use and
/// reopened if the server closed them.
struct Sockets {
    addr: SocketAddr,
    peers: HashMap<String, Peer>,
}

impl Sockets {
    fn new(addr: SocketAddr) -> Sockets {
        Sockets {
            addr,
            peers: HashMap::new(),
        }
    }

    /// Makes sure a live socket for `token` exists (before a REST call, so that
    /// signing the socket in happens outside the compared pair of calls).
    async fn ready(&mut self, token: Option<&str>) {
        let slot = token.unwrap_or("").to_string();
        if self.peers.get(&slot).is_some_and(|p| p.closed.is_none()) {
            return;
        }
        let peer = Peer::native_signed_in(self.addr, token).await;
        self.peers.insert(slot, peer);
    }

    async fn call(
        &mut self,
        token: Option<&str>,
        method: &str,
        params: &Value,
        key: Option<&str>,
    ) -> Outcome {
        self.ready(token).await;
        let peer = self.peers.get_mut(token.unwrap_or("")).expect("socket");
        match peer.call(method, params.clone(), key).await {
            Ok(v) => Outcome::Ok(v),
            Err(e) => Outcome::Err {
                code: e.code,
                message: e.message,
                field: e.field,
                retry_after: e.retry_after,
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Normalization of what legitimately differs between two calls
// ---------------------------------------------------------------------------

/// Fresh on every call: compared only as "present".
const ALWAYS_VOLATILE: [&str; 3] = ["access_token", "refresh_token", "exported_at"];

/// Times that differ between twin targets made at different moments.
const TIMES: [&str; 5] = [
    "created_at",
    "updated_at",
    "last_used_at",
    "revoked_at",
    "at",
];

fn substitute(s: &str, subs: &[(String, String)]) -> String {
    subs.iter()
        .fold(s.to_string(), |acc, (from, to)| acc.replace(from, to))
}

fn normalize(v: &Value, subs: &[(String, String)], loose: bool) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let volatile = ALWAYS_VOLATILE.contains(&k.as_str())
                        || (loose && TIMES.contains(&k.as_str()));
                    let v = if volatile && !v.is_null() {
                        json!(format!("<{k}>"))
                    } else {
                        normalize(v, subs, loose)
                    };
                    (substitute(k, subs), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalize(x, subs, loose)).collect()),
        Value::String(s) => Value::String(substitute(s, subs)),
        other => other.clone(),
    }
}

fn normalize_outcome(o: &Outcome, subs: &[(String, String)], loose: bool) -> Outcome {
    match o {
        Outcome::Ok(v) => Outcome::Ok(normalize(v, subs, loose)),
        Outcome::Err {
            code,
            message,
            field,
            retry_after,
        } => Outcome::Err {
            code: code.clone(),
            message: substitute(message, subs),
            field: field.as_deref().map(|f| substitute(f, subs)),
            retry_after: *retry_after,
        },
    }
}

// ---------------------------------------------------------------------------
// Accounts, callers and cases
// ---------------------------------------------------------------------------

/// A signed-in account.
#[derive(Debug, Clone)]
struct Account {
    name: String,
    id: String,
    email: String,
    access: String,
}

impl Account {
    fn token(&self) -> Option<&str> {
        Some(&self.access)
    }

    /// This account as a caller.
    fn who(&self) -> Who {
        Who {
            name: self.name.clone(),
            token: Some(self.access.clone()),
        }
    }

    /// This account as a caller with another of its tokens.
    fn with(&self, token: &str) -> Who {
        Who {
            name: self.name.clone(),
            token: Some(token.to_string()),
        }
    }
}

/// Who calls: a name for messages, and the access token (none: anonymous).
#[derive(Debug, Clone)]
struct Who {
    name: String,
    token: Option<String>,
}

impl Who {
    fn anonymous() -> Who {
        Who {
            name: "anonymous".into(),
            token: None,
        }
    }
}

/// A call that must succeed (setup, not a compared case).
async fn rest_ok(addr: SocketAddr, token: Option<&str>, method: &str, params: Value) -> Value {
    match rest(addr, token, method, &params, None).await {
        (200, Outcome::Ok(v)) => v,
        (status, other) => panic!("{method} {params}: {status} {other:?}"),
    }
}

/// An account from an `auth.register` / `auth.login` result.
fn account(name: &str, r: &Value) -> Account {
    Account {
        name: name.to_string(),
        id: r["user"]["id"].as_str().expect("user id").to_string(),
        email: r["user"]["email"].as_str().expect("email").to_string(),
        access: r["access_token"].as_str().expect("token").to_string(),
    }
}

fn register_params(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD, "display_name": "Someone" })
}

/// Registers `name@example.com` over REST.
async fn register(addr: SocketAddr, name: &str) -> Account {
    let email = format!("{name}@example.com");
    let r = rest_ok(addr, None, "auth.register", register_params(&email)).await;
    account(name, &r)
}

/// Makes `user` a platform admin in the database (read at each request).
async fn promote(server: &TestServer, user: &str) {
    let store = server.db.store().await;
    sqlx::query("UPDATE users SET platform_admin = 1 WHERE id = $1")
        .bind(user)
        .execute(store.pool())
        .await
        .expect("promote");
}

async fn create_business(addr: SocketAddr, owner: &Account, name: &str) -> String {
    let b = rest_ok(
        addr,
        owner.token(),
        "business.create",
        json!({ "name": name }),
    )
    .await;
    b["id"].as_str().expect("business id").to_string()
}

/// One door's half of a case.
#[derive(Debug, Clone)]
struct Side {
    who: Who,
    params: Value,
    key: Option<String>,
    /// Values of this side's target, and what they stand for.
    subs: Vec<(String, String)>,
}

impl Side {
    fn new(who: &Who, params: Value) -> Side {
        Side {
            who: who.clone(),
            params,
            key: None,
            subs: Vec::new(),
        }
    }

    /// `from` (this side's own target) stands for `to`.
    fn sub(mut self, from: &str, to: &str) -> Side {
        self.subs.push((from.to_string(), to.to_string()));
        self
    }
}

/// One parity case: the same call at both doors (or twin calls on twin
/// targets), and the outcome both must give (`"ok"` or an error code).
struct Case {
    what: String,
    method: &'static str,
    rest: Side,
    sock: Side,
    expect: &'static str,
    /// Twin targets: their timestamps differ too.
    loose: bool,
    /// Pointers to ids the call made (each door its own).
    new_ids: Vec<&'static str>,
}

impl Case {
    /// The very same call at both doors.
    fn same(
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
    fn twins(
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

    fn key(mut self, key: &str) -> Case {
        self.rest.key = Some(key.to_string());
        self.sock.key = Some(key.to_string());
        self
    }

    fn new_id(mut self, pointer: &'static str) -> Case {
        self.new_ids.push(pointer);
        self
    }
}

/// A row of a table of same-call cases: what, who, params, expected outcome.
type Row<'a> = (&'a str, &'a Who, Value, &'static str);

/// Runs cases at both doors and collects every disagreement.
struct Parity {
    addr: SocketAddr,
    label: &'static str,
    sockets: Sockets,
    covered: BTreeSet<String>,
    problems: Vec<String>,
    cases: usize,
}

impl Parity {
    /// Runs `case`; returns the (REST, socket) outcomes as they came.
    async fn run(&mut self, case: Case) -> (Outcome, Outcome) {
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
    async fn table(&mut self, method: &'static str, rows: Vec<Row<'_>>) {
        for (what, who, params, expect) in rows {
            self.run(Case::same(what, who, method, params, expect))
                .await;
        }
    }
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

// ---------------------------------------------------------------------------
// 1. Same input, same answer
// ---------------------------------------------------------------------------

/// Everyone the cases need.
struct World {
    addr: SocketAddr,
    owner: Account,
    admin: Account,
    viewer: Account,
    stranger: Account,
    padmin: Account,
    anon: Who,
    /// The business: owner, admin, viewer.
    shop: String,
    /// Twin throwaway businesses of the owner, one per door.
    throwaway: [String; 2],
}

impl World {
    async fn build(server: &TestServer) -> World {
        let addr = server.addr;
        let owner = register(addr, "owner").await;
        let admin = register(addr, "admin").await;
        let viewer = register(addr, "viewer").await;
        let stranger = register(addr, "stranger").await;
        let padmin = register(addr, "padmin").await;
        promote(server, &padmin.id).await;
        let shop = create_business(addr, &owner, "Shop").await;
        for (who, role) in [(&admin, "admin"), (&viewer, "viewer")] {
            rest_ok(
                addr,
                owner.token(),
                "member.add",
                json!({ "business_id": shop, "email": who.email, "role": role }),
            )
            .await;
        }
        let throwaway = [
            create_business(addr, &owner, "Throwaway").await,
            create_business(addr, &owner, "Throwaway").await,
        ];
        World {
            addr,
            owner,
            admin,
            viewer,
            stranger,
            padmin,
            anon: Who::anonymous(),
            shop,
            throwaway,
        }
    }

    /// Params naming the shop, plus `extra`'s.
    fn shop(&self, extra: Value) -> Value {
        let mut m = json!({ "business_id": self.shop });
        if let (Value::Object(m), Value::Object(x)) = (&mut m, extra) {
            m.extend(x);
        }
        m
    }

    /// Params naming a member of the shop, plus `extra`'s.
    fn member(&self, user: &str, extra: Value) -> Value {
        let mut m = json!({ "user_id": user });
        if let (Value::Object(m), Value::Object(x)) = (&mut m, extra) {
            m.extend(x);
        }
        self.shop(m)
    }
}

/// Two throwaway accounts, one the target of each door.
struct Twins([Account; 2]);

impl Twins {
    /// Door `i`'s side: `who` calls with `params`; the twin's id and email
    /// stand for "the twin".
    fn side(&self, i: usize, who: &Who, params: Value) -> Side {
        let t = &self.0[i];
        Side::new(who, params)
            .sub(&t.id, "<twin id>")
            .sub(&t.email, "<twin email>")
    }

    /// The twin case where door `i` calls `params(twin i)` as `who(twin i)`.
    fn case(
        &self,
        what: &str,
        method: &'static str,
        who: impl Fn(&Account) -> Who,
        params: impl Fn(&Account) -> Value,
        expect: &'static str,
    ) -> Case {
        let [a, b] = &self.0;
        Case::twins(
            what,
            method,
            self.side(0, &who(a), params(a)),
            self.side(1, &who(b), params(b)),
            expect,
        )
    }
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
            Box::pin(members(&mut p, &w, &twins)).await;
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

/// `auth.register`: the twins, one through each door; refused registrations.
async fn registration(p: &mut Parity, w: &World) -> Twins {
    let anon = &w.anon;
    let emails = ["twin.rest@example.com", "twin.socket@example.com"];
    let side = |e: &str| Side::new(anon, register_params(e)).sub(e, "<twin email>");
    let case = Case::twins(
        "register the twins",
        "auth.register",
        side(emails[0]),
        side(emails[1]),
        "ok",
    )
    .new_id("/user/id");
    let (a, b) = p.run(case).await;
    let twins = Twins([
        account("twin (REST)", a.value().expect("registered")),
        account("twin (socket)", b.value().expect("registered")),
    ]);
    p.table(
        "auth.register",
        vec![
            (
                "an email already registered",
                anon,
                register_params(&w.owner.email),
                "conflict",
            ),
            (
                "a malformed email",
                anon,
                register_params("nope"),
                "invalid_argument",
            ),
            (
                "a short password",
                anon,
                json!({ "email": "s@example.com", "password": "short", "display_name": "S" }),
                "invalid_argument",
            ),
            (
                "no display name",
                anon,
                json!({ "email": "n@example.com", "password": PASSWORD }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    // A signed-in caller may register others (a public operation).
    let o = &w.owner.who();
    let side = |e: &str| Side::new(o, register_params(e)).sub(e, "<other email>");
    let case = Case::twins(
        "a signed-in caller registers someone",
        "auth.register",
        side("other.rest@example.com"),
        side("other.socket@example.com"),
        "ok",
    )
    .new_id("/user/id");
    p.run(case).await;
    twins
}

/// `me.get`, `me.export`, `business.list`, `agent.attributions`, and params
/// that are not an object.
async fn own_account(p: &mut Parity, w: &World) {
    let (o, v, pa, s, anon) = (
        &w.owner.who(),
        &w.viewer.who(),
        &w.padmin.who(),
        &w.stranger.who(),
        &w.anon,
    );
    for method in ["me.get", "me.export", "business.list", "agent.attributions"] {
        p.table(
            method,
            vec![
                ("own", o, json!({}), "ok"),
                ("own, no params at all", v, Value::Null, "ok"),
                ("own", pa, json!({}), "ok"),
                ("own", anon, json!({}), "unauthorized"),
                (
                    "an unknown param",
                    s,
                    json!({ "page": 2 }),
                    "invalid_argument",
                ),
            ],
        )
        .await;
    }
    p.run(Case::same("a read ignores a key", o, "business.list", json!({}), "ok").key("read-key"))
        .await;
    p.table(
        "me.get",
        vec![
            ("params that are an array", o, json!([]), "invalid_argument"),
            (
                "params that are a string",
                o,
                json!("me"),
                "invalid_argument",
            ),
            (
                "params that are an array",
                anon,
                json!(["x"]),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.table(
        "business.get",
        vec![(
            "params that are an array",
            o,
            json!([w.shop]),
            "invalid_argument",
        )],
    )
    .await;
}

/// `business.get`, `member.list`, `business.update`, `business.create`,
/// `agent.attributions` after onboarding.
async fn business_reads_and_changes(p: &mut Parity, w: &World) {
    let (o, a, v, s, pa, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
        &w.padmin.who(),
        &w.anon,
    );
    for method in ["business.get", "member.list"] {
        let no_such = json!({ "business_id": "no-such-business" });
        let long = json!({ "business_id": "b".repeat(65) });
        p.table(
            method,
            vec![
                ("the shop", o, w.shop(json!({})), "ok"),
                ("the shop", a, w.shop(json!({})), "ok"),
                ("the shop", v, w.shop(json!({})), "ok"),
                ("the shop", s, w.shop(json!({})), "not_found"),
                ("the shop, not a member", pa, w.shop(json!({})), "not_found"),
                ("the shop", anon, w.shop(json!({})), "unauthorized"),
                ("an unknown business", o, no_such, "not_found"),
                (
                    "a numeric business id",
                    o,
                    json!({ "business_id": 42 }),
                    "invalid_argument",
                ),
                ("no business id", o, json!({}), "invalid_argument"),
                (
                    "a business id of 65 characters",
                    o,
                    long,
                    "invalid_argument",
                ),
                (
                    "an unknown param",
                    o,
                    w.shop(json!({ "limit": 3 })),
                    "invalid_argument",
                ),
            ],
        )
        .await;
    }

    let rename = |name: &str| w.shop(json!({ "name": name }));
    p.table(
        "business.update",
        vec![
            ("rename", a, rename("Parity Shop"), "ok"),
            ("rename", v, rename("Mine Now"), "forbidden"),
            ("rename", s, rename("Mine Now"), "not_found"),
            ("rename", anon, rename("Mine Now"), "unauthorized"),
            ("a blank name", o, rename("   "), "invalid_argument"),
            (
                "a name of 121 characters",
                o,
                rename(&"n".repeat(121)),
                "invalid_argument",
            ),
            (
                "a numeric name",
                o,
                w.shop(json!({ "name": 7 })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    for (what, key) in [
        ("an empty idempotency key", String::new()),
        ("an idempotency key of 256 bytes", "k".repeat(256)),
    ] {
        let case = Case::same(
            what,
            a,
            "business.update",
            rename("Parity Shop"),
            "invalid_argument",
        );
        p.run(case.key(&key)).await;
    }

    let create = |name: &str| json!({ "name": name });
    let twin_create = |what: &str, who: &Who, params: Value| {
        Case::twins(
            what,
            "business.create",
            Side::new(who, params.clone()),
            Side::new(who, params),
            "ok",
        )
        .new_id("/id")
    };
    p.run(twin_create("create", o, create("Parity Co"))).await;
    // One key at both doors: the socket gets what REST created, replayed.
    let keyed = Case::same(
        "create with a key",
        o,
        "business.create",
        create("Keyed"),
        "ok",
    );
    p.run(keyed.key("parity-create-1")).await;
    let other = Case::same(
        "the same key with other params",
        o,
        "business.create",
        create("Other"),
        "conflict",
    );
    p.run(other.key("parity-create-1")).await;
    // An agent onboarding a business for its owner.
    let onboard = json!({ "name": "Onboarded", "owner_email": w.owner.email });
    p.run(twin_create("create for another owner", s, onboard))
        .await;
    p.table(
        "agent.attributions",
        vec![("after onboarding twice", s, json!({}), "ok")],
    )
    .await;
    let nobody = json!({ "name": "X", "owner_email": "nobody@example.com" });
    p.table(
        "business.create",
        vec![
            ("anonymous", anon, create("Nope"), "unauthorized"),
            ("no name", o, json!({}), "invalid_argument"),
            (
                "a numeric name",
                o,
                json!({ "name": 5 }),
                "invalid_argument",
            ),
            (
                "a malformed owner email",
                o,
                json!({ "name": "X", "owner_email": "x" }),
                "invalid_argument",
            ),
            ("an owner email of nobody", o, nobody, "invalid_argument"),
            ("no params at all", o, Value::Null, "invalid_argument"),
        ],
    )
    .await;
    p.table(
        "business.list",
        vec![("after creating", o, json!({}), "ok")],
    )
    .await;
}

/// `member.add`, `member.set_role`, `member.remove`, `member.leave`, the twins
/// as targets.
async fn members(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, a, v, s, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.viewer.who(),
        &w.stranger.who(),
        &w.anon,
    );
    let admin = |_: &Account| w.admin.who();
    let add = |email: &str, role: &str| w.shop(json!({ "email": email, "role": role }));
    p.run(twins.case(
        "add a twin",
        "member.add",
        admin,
        |t| add(&t.email, "agent"),
        "ok",
    ))
    .await;
    let se = &w.stranger.email;
    p.table(
        "member.add",
        vec![
            (
                "add a member again",
                o,
                add(&w.viewer.email, "viewer"),
                "conflict",
            ),
            (
                "add an unknown account",
                o,
                add("nobody@example.com", "viewer"),
                "invalid_argument",
            ),
            (
                "add a malformed email",
                o,
                add("x", "viewer"),
                "invalid_argument",
            ),
            (
                "add with an unknown role",
                o,
                add(se, "emperor"),
                "invalid_argument",
            ),
            (
                "add without a role",
                o,
                w.shop(json!({ "email": se })),
                "invalid_argument",
            ),
            ("admin adds an owner", a, add(se, "owner"), "forbidden"),
            ("viewer adds", v, add(se, "viewer"), "forbidden"),
            ("stranger adds", s, add(se, "viewer"), "not_found"),
            ("anonymous adds", anon, add(se, "viewer"), "unauthorized"),
        ],
    )
    .await;
    p.table(
        "member.list",
        vec![
            ("after adding", o, w.shop(json!({})), "ok"),
            ("after adding", v, w.shop(json!({})), "ok"),
        ],
    )
    .await;

    let role = |user: &str, role: &str| w.member(user, json!({ "role": role }));
    let set = |t: &Account| role(&t.id, "viewer");
    p.run(twins.case("demote a twin", "member.set_role", admin, set, "ok"))
        .await;
    p.table(
        "member.set_role",
        vec![
            (
                "a non-member",
                o,
                role(&w.stranger.id, "agent"),
                "not_found",
            ),
            (
                "an unknown user",
                o,
                role("no-such-user", "agent"),
                "not_found",
            ),
            (
                "an unknown role",
                o,
                role(&w.viewer.id, "boss"),
                "invalid_argument",
            ),
            (
                "no user",
                o,
                w.shop(json!({ "role": "agent" })),
                "invalid_argument",
            ),
            (
                "demote the last owner",
                o,
                role(&w.owner.id, "viewer"),
                "conflict",
            ),
            (
                "admin demotes the owner",
                a,
                role(&w.owner.id, "viewer"),
                "forbidden",
            ),
            (
                "viewer demotes the admin",
                v,
                role(&w.admin.id, "viewer"),
                "forbidden",
            ),
            (
                "stranger demotes the admin",
                s,
                role(&w.admin.id, "viewer"),
                "not_found",
            ),
        ],
    )
    .await;

    let remove = |t: &Account| w.member(&t.id, json!({}));
    p.run(twins.case("remove a twin", "member.remove", admin, remove, "ok"))
        .await;
    p.table(
        "member.remove",
        vec![
            (
                "a non-member",
                o,
                w.member(&w.stranger.id, json!({})),
                "not_found",
            ),
            (
                "the last owner",
                o,
                w.member(&w.owner.id, json!({})),
                "conflict",
            ),
            (
                "viewer removes the admin",
                v,
                w.member(&w.admin.id, json!({})),
                "forbidden",
            ),
            ("no user", o, w.shop(json!({})), "invalid_argument"),
            (
                "a malformed user id",
                o,
                w.member("not an id!", json!({})),
                "invalid_argument",
            ),
        ],
    )
    .await;

    // Each twin, a viewer again, leaves through its own door.
    for t in &twins.0 {
        rest_ok(
            w.addr,
            o.token.as_deref(),
            "member.add",
            add(&t.email, "viewer"),
        )
        .await;
    }
    let leave = |_: &Account| w.shop(json!({}));
    p.run(twins.case("leave", "member.leave", Account::who, leave, "ok"))
        .await;
    p.table(
        "member.leave",
        vec![
            ("the last owner", o, w.shop(json!({})), "conflict"),
            ("a stranger", s, w.shop(json!({})), "not_found"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            (
                "an unknown param",
                v,
                w.shop(json!({ "why": "bored" })),
                "invalid_argument",
            ),
        ],
    )
    .await;
}

/// `business.verify`, `user.suspend`, `user.unsuspend`, `audit.list`.
async fn platform_admin(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, v, pa, anon) = (&w.owner.who(), &w.viewer.who(), &w.padmin.who(), &w.anon);
    let verify = |i: usize| {
        Side::new(pa, json!({ "business_id": w.throwaway[i] })).sub(&w.throwaway[i], "<throwaway>")
    };
    p.run(Case::twins(
        "verify",
        "business.verify",
        verify(0),
        verify(1),
        "ok",
    ))
    .await;
    let no_such = json!({ "business_id": "no-such-business" });
    p.table(
        "business.verify",
        vec![
            ("not a platform admin", o, w.shop(json!({})), "forbidden"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            ("an unknown business", pa, no_such, "not_found"),
            ("no business", pa, json!({}), "invalid_argument"),
        ],
    )
    .await;
    for method in ["user.suspend", "user.unsuspend"] {
        let user = |t: &Account| json!({ "user_id": t.id });
        p.run(twins.case("a twin", method, |_| w.padmin.who(), user, "ok"))
            .await;
        let viewer = json!({ "user_id": w.viewer.id });
        p.table(
            method,
            vec![
                ("not a platform admin", o, viewer.clone(), "forbidden"),
                ("anonymous", anon, viewer, "unauthorized"),
                (
                    "an unknown user",
                    pa,
                    json!({ "user_id": "no-such-user" }),
                    "not_found",
                ),
                (
                    "a numeric user id",
                    pa,
                    json!({ "user_id": 7 }),
                    "invalid_argument",
                ),
            ],
        )
        .await;
    }
    p.table(
        "audit.list",
        vec![
            ("the newest entries", pa, json!({}), "ok"),
            ("a page of 3", pa, json!({ "limit": 3 }), "ok"),
            ("a page of 2, as text", pa, json!({ "limit": "2" }), "ok"),
            ("one action", pa, json!({ "action": "auth.register" }), "ok"),
            ("before an id", pa, json!({ "before": 5, "limit": 2 }), "ok"),
            // (Out-of-range limits are clamped to 1..=500, not refused.)
            (
                "a limit of 0",
                pa,
                json!({ "limit": 0 }),
                "invalid_argument",
            ),
            (
                "a limit of 501",
                pa,
                json!({ "limit": 501 }),
                "invalid_argument",
            ),
            (
                "a limit that is not a number",
                pa,
                json!({ "limit": "many" }),
                "invalid_argument",
            ),
            ("not a platform admin", v, json!({}), "forbidden"),
            ("anonymous", anon, json!({}), "unauthorized"),
        ],
    )
    .await;
}

/// `auth.login`, `auth.refresh`, `auth.change_password`, `auth.logout`: each
/// twin through its own door (the twins are signed out by their suspension).
async fn sign_in_and_out(p: &mut Parity, w: &World, twins: &Twins) {
    let anon = &w.anon;
    let login = |email: &str, password: &str| json!({ "email": email, "password": password });
    let (l1, l2) = p
        .run(twins.case(
            "sign in",
            "auth.login",
            |_| Who::anonymous(),
            |t| login(&t.email, PASSWORD),
            "ok",
        ))
        .await;
    let owner = &w.owner.email;
    p.table(
        "auth.login",
        vec![
            (
                "the same user at both doors",
                anon,
                login(owner, PASSWORD),
                "ok",
            ),
            (
                "a wrong password",
                anon,
                login(owner, "not the password"),
                "unauthorized",
            ),
            (
                "an unknown email",
                anon,
                login("nobody@example.com", PASSWORD),
                "unauthorized",
            ),
            (
                "a malformed email",
                anon,
                login("nobody", PASSWORD),
                "invalid_argument",
            ),
            (
                "no password",
                anon,
                json!({ "email": owner }),
                "invalid_argument",
            ),
        ],
    )
    .await;

    let refresh_of = [l1.str_at("/refresh_token"), l2.str_at("/refresh_token")];
    let refresh = |t: &Account| {
        let i = usize::from(t.id != twins.0[0].id);
        json!({ "refresh_token": refresh_of[i] })
    };
    let (f1, f2) = p
        .run(twins.case(
            "refresh",
            "auth.refresh",
            |_| Who::anonymous(),
            refresh,
            "ok",
        ))
        .await;
    p.table(
        "auth.refresh",
        vec![
            (
                "an unknown refresh token",
                anon,
                json!({ "refresh_token": "not-a-token" }),
                "unauthorized",
            ),
            (
                "an empty refresh token",
                anon,
                json!({ "refresh_token": "" }),
                "invalid_argument",
            ),
        ],
    )
    .await;

    let fresh = [f1.str_at("/access_token"), f2.str_at("/access_token")];
    let by_fresh = |t: &Account| t.with(&fresh[usize::from(t.id != twins.0[0].id)]);
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });
    let t0 = &by_fresh(&twins.0[0]);
    p.table(
        "auth.change_password",
        vec![
            (
                "a wrong current password",
                t0,
                change("not the password", NEW_PASSWORD),
                "invalid_argument",
            ),
            (
                "a short new password",
                t0,
                change(PASSWORD, "short"),
                "invalid_argument",
            ),
            (
                "anonymous",
                anon,
                change(PASSWORD, NEW_PASSWORD),
                "unauthorized",
            ),
        ],
    )
    .await;
    let (c1, c2) = p
        .run(twins.case(
            "change the password",
            "auth.change_password",
            by_fresh,
            |_| change(PASSWORD, NEW_PASSWORD),
            "ok",
        ))
        .await;

    let changed = [c1.str_at("/access_token"), c2.str_at("/access_token")];
    let by_changed = |t: &Account| t.with(&changed[usize::from(t.id != twins.0[0].id)]);
    p.table(
        "auth.logout",
        vec![
            ("anonymous", anon, json!({}), "unauthorized"),
            (
                "an unknown param",
                &by_changed(&twins.0[0]),
                json!({ "all": true }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    p.run(twins.case("sign out", "auth.logout", by_changed, |_| json!({}), "ok"))
        .await;
}

/// `me.delete` (the twins), `business.delete` (the throwaways), the whole
/// audit log, and an unknown method.
async fn endings(p: &mut Parity, w: &World, twins: &Twins) {
    let (o, a, s, pa, anon) = (
        &w.owner.who(),
        &w.admin.who(),
        &w.stranger.who(),
        &w.padmin.who(),
        &w.anon,
    );
    p.table(
        "me.delete",
        vec![
            ("the last owner of a business", o, json!({}), "conflict"),
            ("anonymous", anon, json!({}), "unauthorized"),
            (
                "an unknown param",
                s,
                json!({ "now": true }),
                "invalid_argument",
            ),
        ],
    )
    .await;
    let mut signed = Vec::new();
    for t in &twins.0 {
        let login = json!({ "email": t.email, "password": NEW_PASSWORD });
        let r = rest_ok(w.addr, None, "auth.login", login).await;
        signed.push(account(&t.name, &r));
    }
    let by_signed = |t: &Account| signed[usize::from(t.id != twins.0[0].id)].who();
    p.run(twins.case("erase oneself", "me.delete", by_signed, |_| json!({}), "ok"))
        .await;

    p.table(
        "business.delete",
        vec![
            ("as admin", a, w.shop(json!({})), "forbidden"),
            ("as a stranger", s, w.shop(json!({})), "not_found"),
            ("anonymous", anon, w.shop(json!({})), "unauthorized"),
            (
                "an unknown param",
                o,
                w.shop(json!({ "force": true })),
                "invalid_argument",
            ),
        ],
    )
    .await;
    let delete = |i: usize| {
        Side::new(o, json!({ "business_id": w.throwaway[i] })).sub(&w.throwaway[i], "<throwaway>")
    };
    p.run(Case::twins(
        "delete",
        "business.delete",
        delete(0),
        delete(1),
        "ok",
    ))
    .await;
    p.table(
        "business.get",
        vec![(
            "a deleted business",
            o,
            json!({ "business_id": w.throwaway[0] }),
            "not_found",
        )],
    )
    .await;

    // What the platform saw, once everything happened.
    p.table(
        "audit.list",
        vec![("the whole log", pa, json!({ "limit": 500 }), "ok")],
    )
    .await;
    let case = Case::same(
        "an unknown method",
        o,
        "business.explode",
        json!({}),
        "not_found",
    );
    p.run(case).await;
    // (Not an operation: keep it out of the coverage check.)
    p.covered.remove("business.explode");
}

/// A platform admin demoted in the database: the flag is read at each call, so
/// both doors refuse at once (the socket signed in while the user was admin).
async fn demotion(p: &mut Parity, w: &World, server: &TestServer) {
    let pa = &w.padmin.who();
    p.sockets.ready(pa.token.as_deref()).await;
    let store = server.db.store().await;
    sqlx::query("UPDATE users SET platform_admin = 0 WHERE id = $1")
        .bind(&w.padmin.id)
        .execute(store.pool())
        .await
        .expect("demote");
    p.table(
        "audit.list",
        vec![("after a demotion", pa, json!({ "limit": 1 }), "forbidden")],
    )
    .await;
    p.table("me.get", vec![("after a demotion", pa, json!({}), "ok")])
        .await;
}

// ---------------------------------------------------------------------------
// 2. Bad input, generated from the OpenAPI document
// ---------------------------------------------------------------------------

/// Follows `$ref`s (into `#/components/schemas`) until a schema.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..16 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            return s;
        };
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        s = &doc["components"]["schemas"][name];
        assert!(!s.is_null(), "unresolved $ref {r}");
    }
    panic!("$ref cycle at {schema}")
}

/// The JSON types a schema allows (from `type`, `const`, `enum`, and the
/// alternatives of `oneOf`/`anyOf`/`allOf`), without `null`.
fn types_of(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let s = resolve(doc, schema);
    let mut out = BTreeSet::new();
    match &s["type"] {
        Value::String(t) => {
            out.insert(t.clone());
        }
        Value::Array(ts) => out.extend(ts.iter().filter_map(Value::as_str).map(str::to_string)),
        _ => {}
    }
    let mut consts: Vec<&Value> = s.get("const").into_iter().collect();
    consts.extend(s["enum"].as_array().into_iter().flatten());
    for c in consts {
        out.insert(
            match c {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
                Value::Null => "null",
            }
            .to_string(),
        );
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        for sub in s[key].as_array().into_iter().flatten() {
            out.extend(types_of(doc, sub));
        }
    }
    out.remove("null");
    out
}

/// The first value a schema names outright (`const`, `enum`, or one of its
/// alternatives'), if any.
fn first_const(doc: &Value, schema: &Value) -> Option<Value> {
    let s = resolve(doc, schema);
    if let Some(c) = s.get("const") {
        return Some(c.clone());
    }
    if let Some(e) = s["enum"]
        .as_array()
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return Some(e.clone());
    }
    ["oneOf", "anyOf", "allOf"]
        .iter()
        .flat_map(|k| s[*k].as_array().into_iter().flatten())
        .find_map(|sub| first_const(doc, sub))
}

/// A value the schema accepts (the business id is the real one, so permission
/// checks pass and the params are what is judged).
fn valid_value(doc: &Value, name: &str, schema: &Value, business: &str) -> Value {
    if name == "business_id" {
        return json!(business);
    }
    if let Some(c) = first_const(doc, schema) {
        return c;
    }
    let s = resolve(doc, schema);
    let types = types_of(doc, s);
    if types.contains("string") {
        if s["format"] == "email" {
            return json!("someone@example.com");
        }
        let min = s["minLength"].as_u64().unwrap_or(1).max(1) as usize;
        return json!("a".repeat(min));
    }
    if types.contains("integer") || types.contains("number") {
        return json!(s["minimum"].as_u64().unwrap_or(1).max(1));
    }
    if types.contains("boolean") {
        return json!(true);
    }
    if types.contains("array") {
        return json!([]);
    }
    if types.contains("object") {
        return json!({});
    }
    panic!("no valid value known for `{name}`: {schema}")
}

/// A value of a JSON type the schema does not allow.
fn wrong_value(types: &BTreeSet<String>) -> Option<Value> {
    let has = |t: &str| types.contains(t);
    if has("string") {
        Some(json!(12345))
    } else if has("integer") || has("number") {
        Some(json!("not-a-number"))
    } else if has("boolean") {
        Some(json!("not-a-boolean"))
    } else if has("array") {
        Some(json!({ "not": "an array" }))
    } else if has("object") {
        Some(json!(["not", "an", "object"]))
    } else {
        None
    }
}

/// A string one character over `maxLength`, of the schema's format.
fn too_long(schema: &Value, max: usize) -> Value {
    if schema["format"] == "email" {
        let domain = "@example.com";
        json!(format!("{}{domain}", "a".repeat(max + 1 - domain.len())))
    } else {
        json!("a".repeat(max + 1))
    }
}

/// Who may call an operation, from its description's `Permission: …`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    Anyone,
    User,
    PlatformAdmin,
    Member,
}

fn allowed(op: &Value) -> Allowed {
    let d = op["description"].as_str().expect("description");
    if d.contains("Permission: public.") {
        Allowed::Anyone
    } else if d.contains("Permission: signed-in user.") {
        Allowed::User
    } else if d.contains("Permission: platform admin.") {
        Allowed::PlatformAdmin
    } else if d.contains("Permission: business member") {
        Allowed::Member
    } else {
        panic!("unknown permission in {d:?}")
    }
}

/// One generated bad call.
struct Bad {
    what: String,
    params: Value,
    field: String,
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

/// Sends the generated bad calls on one backend; returns how many, and what
/// was answered wrongly.
async fn bad_input(db: TestDb) -> (usize, Vec<String>) {
    let label = db.label;
    let server = server(db).await;
    let addr = server.addr;
    let doc = http::get(addr, "/api/openapi.json", &[]).await.json();
    let owner = register(addr, "owner").await;
    let padmin = register(addr, "padmin").await;
    promote(&server, &padmin.id).await;
    let business = create_business(addr, &owner, "Shop").await;
    let mut sockets = Sockets::new(addr);
    let mut problems: Vec<String> = Vec::new();
    let mut sent = 1; // (the unknown method, below)
    let unknown = "unexpected_param";

    let ops = operations(&doc);
    assert!(ops.len() >= 23, "{ops:?}");
    for name in &ops {
        let op = &doc["paths"][format!("/api/ops/{name}")]["post"];
        let token = match allowed(op) {
            Allowed::Anyone => None,
            Allowed::User | Allowed::Member => owner.token(),
            Allowed::PlatformAdmin => padmin.token(),
        };
        let schema = resolve(
            &doc,
            &op["requestBody"]["content"]["application/json"]["schema"],
        );
        let props = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let base: Map<String, Value> = required
            .iter()
            .map(|r| {
                let s = props
                    .get(*r)
                    .unwrap_or_else(|| panic!("{name}: {r} has no schema"));
                (r.to_string(), valid_value(&doc, r, s, &business))
            })
            .collect();
        let with = |prop: &str, value: Value| {
            let mut m = base.clone();
            m.insert(prop.to_string(), value);
            Value::Object(m)
        };

        let mut bad: Vec<Bad> = Vec::new();
        for r in &required {
            let mut m = base.clone();
            m.remove(*r);
            bad.push(Bad {
                what: format!("(a) `{r}` missing"),
                params: Value::Object(m),
                field: r.to_string(),
            });
        }
        for (prop, s) in &props {
            let s = resolve(&doc, s);
            if let Some(wrong) = wrong_value(&types_of(&doc, s)) {
                bad.push(Bad {
                    what: format!("(b) `{prop}` of the wrong type"),
                    params: with(prop, wrong),
                    field: prop.clone(),
                });
            }
            if let Some(max) = s["maxLength"].as_u64() {
                bad.push(Bad {
                    what: format!("(c) `{prop}` over its maxLength {max}"),
                    params: with(prop, too_long(s, max as usize)),
                    field: prop.clone(),
                });
            }
        }
        bad.push(Bad {
            what: "(d) an unknown param".into(),
            params: with(unknown, json!(true)),
            field: unknown.into(),
        });
        for params in [json!([]), json!("params")] {
            bad.push(Bad {
                what: format!("(e) params that are not an object: {params}"),
                params,
                field: String::new(),
            });
        }

        sockets.ready(token).await;
        for b in bad {
            sent += 1;
            let (status, r) = rest(addr, token, name, &b.params, None).await;
            let s = sockets.call(token, name, &b.params, None).await;
            let mut trouble = Vec::new();
            if status != 400 {
                trouble.push(format!("REST status {status}, expected 400"));
            }
            for (door, out) in [("REST", &r), ("socket", &s)] {
                if out.code() != "invalid_argument" {
                    trouble.push(format!("{door} code `{}`", out.code()));
                }
                if out.field() != Some(b.field.as_str()) {
                    trouble.push(format!(
                        "{door} field {:?}, expected {:?}",
                        out.field(),
                        b.field
                    ));
                }
            }
            if status == 500 || r.code() == "internal" || s.code() == "internal" {
                trouble.push("a 500 / internal for bad input".into());
            }
            if !trouble.is_empty() {
                problems.push(format!(
                    "[{label}] `{name}` {}: params {}\n  REST   {status} {r:?}\n  socket {s:?}\n  - {}",
                    b.what,
                    b.params,
                    trouble.join("\n  - ")
                ));
            }
        }
    }

    // An unknown method, at both doors.
    let (status, r) = rest(addr, owner.token(), "no.such_method", &json!({}), None).await;
    let s = sockets
        .call(owner.token(), "no.such_method", &json!({}), None)
        .await;
    if status != 404 || r.code() != "not_found" || s.code() != "not_found" || r != s {
        problems.push(format!(
            "[{label}] unknown method\n  REST   {status} {r:?}\n  socket {s:?}"
        ));
    }

    server.stop().await;
    (sent, problems)
}
