//! Sign-in state across nodes: signing out through one node closes the
//! session's sockets on the others, removal from a business through one node
//! ends the member's documents and subscriptions on the others, and the
//! per-user connection limit counts every node's connections.

use std::net::SocketAddr;
use std::time::Duration;

use goonline_protocol::codes::close;
use goonline_protocol::native::ServerFrame;
use serde_json::json;

use super::clients::{SignIn, pump, sign_in};
use super::harness::{Cluster, Options, SLOW};
use crate::common::accounts::{Shop, login, register};
use crate::common::{Peer, WAIT, http};

/// `POST path` over REST with `token`; returns the JSON answer of a 200.
async fn rest_json(
    addr: SocketAddr,
    path: &str,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let bearer = format!("Bearer {token}");
    let r = http::json(addr, "POST", path, &[("Authorization", &bearer)], &body).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

pub async fn signing_out_on_one_node_closes_sockets_on_others_and_the_connection_limit_is_global() {
    let Some(cluster) =
        Cluster::start(Options::nodes(3).flags(&["--max-connections-per-user", "2"])).await
    else {
        return;
    };
    let (a, b, c) = (cluster.addr(0), cluster.addr(1), cluster.addr(2));

    // Two sign-in sessions of one user, with a socket each on nodes B and C.
    let me = register(a, "roaming").await;
    let second = login(a, &me).await;
    let mut on_b = Peer::native_signed_in(b, Some(&me.access)).await;
    let notes = format!("user/{}/notes", me.id);
    let mut on_c = Peer::yws_signed_in(c, &notes, Some(&second)).await;
    assert!(on_c.until(WAIT, |p| p.synced.values().any(|s| *s)).await);

    // Signing out the first session through node A closes its socket on B,
    // and only that one.
    rest_json(a, "/api/auth/logout", &me.access, json!({})).await;
    assert_eq!(on_b.closed_with(SLOW).await, Some(close::UNAUTHORIZED));
    pump(&mut on_c, Duration::from_millis(300)).await;
    assert!(
        on_c.closed.is_none(),
        "another session stays: {:?}",
        on_c.closed
    );
    // Changing the password through node A ends every session, on C too.
    let change = json!({
        "current_password": "correct horse battery",
        "new_password": "a brand new secret",
    });
    rest_json(a, "/api/auth/password", &second, change).await;
    assert_eq!(on_c.closed_with(SLOW).await, Some(close::UNAUTHORIZED));

    // Removed from a business through node A: the member's document socket
    // on B is closed, and their chat subscription on C ends.
    let shop = Shop::open(a).await;
    let owner = shop.owner.access.clone();
    let made = rest_json(
        a,
        "/api/ops/chat.channel.create",
        &owner,
        json!({ "business_id": shop.business, "name": "staff" }),
    )
    .await;
    let topic = made["topic"].as_str().expect("topic").to_string();
    let mut doc_on_b = Peer::yws_signed_in(b, &shop.doc("plan"), Some(&shop.editor.access)).await;
    assert!(
        doc_on_b
            .until(WAIT, |p| p.synced.values().any(|s| *s))
            .await
    );
    let mut chat_on_c = Peer::native_signed_in(c, Some(&shop.editor.access)).await;
    assert!(chat_on_c.sub(&topic, None).await);
    let removal = json!({ "business_id": shop.business, "user_id": shop.editor.id });
    rest_json(a, "/api/ops/member.remove", &owner, removal).await;
    assert_eq!(doc_on_b.closed_with(SLOW).await, Some(close::FORBIDDEN));
    let ended = |p: &Peer| {
        p.frames
            .iter()
            .any(|f| matches!(f, ServerFrame::Unsubscribed { topic: t, .. } if *t == topic))
    };
    assert!(
        chat_on_c.until(SLOW, ended).await,
        "the subscription on C ended"
    );

    // At most two connections for this user, wherever they are.
    let you = register(a, "busy").await;
    let first = match sign_in(a, &you.access).await {
        SignIn::Admitted(p) => p,
        SignIn::Refused(code, e) => panic!("first connection refused: {code:?} {e:?}"),
    };
    let _second = match sign_in(b, &you.access).await {
        SignIn::Admitted(p) => p,
        SignIn::Refused(code, e) => panic!("second connection refused: {code:?} {e:?}"),
    };
    match sign_in(c, &you.access).await {
        SignIn::Admitted(_) => panic!("a third connection on another node was admitted"),
        SignIn::Refused(code, errors) => {
            assert_eq!(code, Some(close::TRY_AGAIN_LATER), "{errors:?}");
            assert_eq!(errors, vec!["rate_limited".to_string()]);
        }
    }
    assert!(
        cluster
            .metric(2, "goonline_user_connections_refused_total")
            .await
            > 0.0
    );
    // Once one closes, node C admits the user again.
    drop(first);
    let deadline = tokio::time::Instant::now() + SLOW;
    let _third = loop {
        match sign_in(c, &you.access).await {
            SignIn::Admitted(p) => break p,
            SignIn::Refused(..) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "admitted again after a connection closed"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
}
