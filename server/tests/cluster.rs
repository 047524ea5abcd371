//! Several real `goonline serve` processes on loopback ports, sharing one
//! Postgres database and one Redis, with clients spread over them: documents
//! converge in every dialect, topics and chat deliver every event to every
//! node in order, a node killed with -9 or drained on SIGTERM loses nothing
//! acknowledged, a Redis outage and lost bus messages are caught up from the
//! store, sign-outs and the per-user connection limit hold across nodes, and
//! awareness crosses nodes and expires with a dead node.
//!
//! Postgres only: several processes need one shared server database
//! (TEST_DATABASE_URL; each test creates its own). Without it these tests are
//! skipped with a message. Redis at TEST_REDIS_URL (default
//! `redis://127.0.0.1:6379`) is required: each test uses its own channel and
//! key prefix, and outages are staged with a TCP proxy, never by touching the
//! shared Redis.
//!
//! Each test is declared here and runs its body from the module of its
//! subject, under `cluster/`.

mod common;

#[path = "cluster/awareness.rs"]
mod awareness;
#[path = "cluster/clients.rs"]
mod clients;
#[path = "cluster/docs.rs"]
mod docs;
#[path = "cluster/harness.rs"]
mod harness;
#[path = "cluster/identity.rs"]
mod identity;
#[path = "cluster/outage.rs"]
mod outage;
#[path = "cluster/topics.rs"]
mod topics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_every_dialect_on_three_nodes_converge_on_one_document() {
    docs::clients_of_every_dialect_on_three_nodes_converge_on_one_document().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_comments_reach_subscribers_on_every_node_in_order_and_presence_crosses_nodes() {
    topics::chat_and_comments_reach_subscribers_on_every_node_in_order_and_presence_crosses_nodes()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_write_loses_nothing_acknowledged_and_its_clients_move_on() {
    docs::a_node_killed_mid_write_loses_nothing_acknowledged_and_its_clients_move_on().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_redis_outage_every_node_has_every_update_and_event_and_is_ready_again() {
    outage::after_a_redis_outage_every_node_has_every_update_and_event_and_is_ready_again().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_dropping_bus_messages_catches_up_from_the_store() {
    outage::a_node_dropping_bus_messages_catches_up_from_the_store().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_on_one_node_closes_sockets_on_others_and_the_connection_limit_is_global() {
    identity::signing_out_on_one_node_closes_sockets_on_others_and_the_connection_limit_is_global()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_says_going_away_exits_0_and_its_clients_carry_on_elsewhere() {
    docs::a_draining_node_says_going_away_exits_0_and_its_clients_carry_on_elsewhere().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_crosses_nodes_and_a_dead_nodes_states_expire() {
    awareness::awareness_crosses_nodes_and_a_dead_nodes_states_expire().await;
}
