//! Topics over real sockets and real HTTP, on SQLite and Postgres: the
//! operational metrics feed for platform admins, the REST history door, bad
//! input on topic frames, and (with chat) recovery across reconnects.
//!
//! Each test is declared here and runs its body from the module of its
//! subject: `metrics`, `bad_input`, `chat_live`.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod metrics;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_admins_follow_live_operational_metrics_and_others_are_refused() {
    metrics::platform_admins_follow_live_operational_metrics_and_others_are_refused().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_history_door_pages_a_topic_with_the_same_access_rule() {
    metrics::the_rest_history_door_pages_a_topic_with_the_same_access_rule().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_topic_frames_get_clear_errors_and_the_connection_goes_on() {
    bad_input::bad_topic_frames_get_clear_errors_and_the_connection_goes_on().await;
}
