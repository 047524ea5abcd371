//! Topics over real sockets and real HTTP, on SQLite and Postgres: the
//! operational metrics feed for platform admins, the REST history door, bad
//! input on topic frames, and (with chat) recovery across reconnects.
//!
//! Each test is declared here and runs its body from the module of its
//! subject: `metrics`, `bad_input`, `chat_live`.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod chat_live;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_reconnects_gets_exactly_what_it_missed_then_live_messages() {
    chat_live::a_member_who_reconnects_gets_exactly_what_it_missed_then_live_messages().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_while_members_join_arrive_once_each_in_order() {
    chat_live::messages_sent_while_members_join_arrive_once_each_in_order().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_since_gets_a_gap_and_removal_ends_the_subscription() {
    chat_live::an_old_since_gets_a_gap_and_removal_ends_the_subscription().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_after_reconnect_is_one_message_and_typing_is_shared() {
    chat_live::a_resend_after_reconnect_is_one_message_and_typing_is_shared().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_messages_is_rate_limited_and_every_accepted_one_is_kept() {
    bad_input::a_flood_of_messages_is_rate_limited_and_every_accepted_one_is_kept().await;
}
