//! The identity service on SQLite and Postgres, in-process through the operation
//! registry (as both transports call it): accounts, sign-in, token rotation and
//! reuse detection, revocation (with live sessions closed), refused tokens,
//! rate limits, the audit trail, export and erasure, suspension, bad input, the
//! signing secret, and `goonline user create` run as the real binary.
//!
//! Each test is declared here and runs its body from the module of its
//! subject: `accounts`, `sessions`, `refusals`, `admin` (audit and
//! suspension), `personal_data`, `bad_input`, `cli`, `secret`, `purge`; helpers
//! they share are in `support`.

#[path = "../common/mod.rs"]
mod common;

mod accounts;
mod admin;
mod bad_input;
mod cli;
mod personal_data;
mod purge;
mod refusals;
mod secret;
mod sessions;
mod support;

#[tokio::test]
async fn register_login_and_me() {
    accounts::register_login_and_me().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    accounts::wrong_password_and_unknown_email_are_indistinguishable().await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    sessions::refresh_rotates_and_reuse_revokes_the_family().await;
}

#[tokio::test]
async fn logout_ends_only_this_session() {
    sessions::logout_ends_only_this_session().await;
}

#[tokio::test]
async fn change_password_revokes_every_session_and_issues_a_fresh_pair() {
    sessions::change_password_revokes_every_session_and_issues_a_fresh_pair().await;
}

#[tokio::test]
async fn a_sign_out_this_node_missed_is_found_by_the_recheck() {
    sessions::a_sign_out_this_node_missed_is_found_by_the_recheck().await;
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_refused() {
    refusals::forged_expired_and_foreign_tokens_are_refused().await;
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_account_and_per_ip() {
    refusals::sign_in_attempts_are_rate_limited_per_account_and_per_ip().await;
}

#[tokio::test]
async fn critical_actions_are_audited_and_admins_can_read_the_log() {
    admin::critical_actions_are_audited_and_admins_can_read_the_log().await;
}

#[tokio::test]
async fn me_export_holds_everything_about_the_caller() {
    personal_data::me_export_holds_everything_about_the_caller().await;
}

#[tokio::test]
async fn me_delete_erases_personal_data_and_frees_the_email() {
    personal_data::me_delete_erases_personal_data_and_frees_the_email().await;
}

#[tokio::test]
async fn suspension_signs_out_and_blocks_sign_in_until_lifted() {
    admin::suspension_signs_out_and_blocks_sign_in_until_lifted().await;
}

#[tokio::test]
async fn bad_input_names_the_field() {
    bad_input::bad_input_names_the_field().await;
}

#[tokio::test]
async fn cli_user_create_makes_a_platform_admin_who_can_sign_in() {
    cli::cli_user_create_makes_a_platform_admin_who_can_sign_in().await;
}

#[tokio::test]
async fn cli_user_create_defaults_to_sqlite_in_the_data_dir() {
    cli::cli_user_create_defaults_to_sqlite_in_the_data_dir().await;
}

#[tokio::test]
async fn the_signing_secret_is_generated_once_and_validated() {
    secret::the_signing_secret_is_generated_once_and_validated().await;
}

#[tokio::test]
async fn a_server_starts_with_identity_and_generates_its_secret() {
    secret::a_server_starts_with_identity_and_generates_its_secret().await;
}

#[tokio::test]
async fn purge_deletes_only_what_no_one_can_use() {
    purge::purge_deletes_only_what_no_one_can_use().await;
}
