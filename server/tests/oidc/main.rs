//! Sign-in with an external OpenID Connect provider, end to end: a test provider
//! (common/oidc_provider.rs), our OIDC routes served on a real socket, and the
//! browser's redirects walked by hand; once through the real server, whose
//! identity service starts the session. Every test runs on SQLite and Postgres.
//!
//! Each test is declared here and runs its body from the module of its
//! subject: `linking` (which account a sign-in lands in), `callbacks`,
//! `provider` (what is trusted of it), `real_server`; `rig` is the in-process
//! setup they share.

#[path = "../common/mod.rs"]
mod common;

mod callbacks;
mod linking;
mod provider;
mod real_server;
mod rig;

#[tokio::test]
async fn a_new_user_is_created_and_linked() {
    linking::a_new_user_is_created_and_linked().await;
}

#[tokio::test]
async fn a_second_sign_in_finds_the_same_user_by_subject() {
    linking::a_second_sign_in_finds_the_same_user_by_subject().await;
}

#[tokio::test]
async fn a_verified_email_links_only_an_account_without_a_password() {
    linking::a_verified_email_links_only_an_account_without_a_password().await;
}

#[tokio::test]
async fn an_unverified_email_without_a_link_is_refused() {
    linking::an_unverified_email_without_a_link_is_refused().await;
}

#[tokio::test]
async fn suspended_and_deleted_accounts_are_refused() {
    linking::suspended_and_deleted_accounts_are_refused().await;
}

#[tokio::test]
async fn a_state_is_good_for_one_callback() {
    callbacks::a_state_is_good_for_one_callback().await;
}

#[tokio::test]
async fn bad_callbacks_answer_json_errors() {
    callbacks::bad_callbacks_answer_json_errors().await;
}

#[tokio::test]
async fn json_mode_hands_out_a_pkce_authorization_url() {
    callbacks::json_mode_hands_out_a_pkce_authorization_url().await;
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    callbacks::a_wrong_pkce_verifier_is_refused_by_the_provider().await;
}

#[tokio::test]
async fn tampered_id_tokens_are_refused() {
    provider::tampered_id_tokens_are_refused().await;
}

#[tokio::test]
async fn an_id_token_signed_with_the_client_secret_is_accepted() {
    provider::an_id_token_signed_with_the_client_secret_is_accepted().await;
}

#[tokio::test]
async fn client_secret_post_when_the_provider_only_offers_that() {
    provider::client_secret_post_when_the_provider_only_offers_that().await;
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    provider::a_wrong_client_secret_is_refused().await;
}

#[tokio::test]
async fn an_unreachable_or_mismatched_provider_is_unavailable() {
    provider::an_unreachable_or_mismatched_provider_is_unavailable().await;
}

#[tokio::test]
async fn sign_in_with_the_provider_through_the_real_server() {
    real_server::sign_in_with_the_provider_through_the_real_server().await;
}

#[tokio::test]
async fn without_oidc_configured_its_paths_are_json_404s() {
    real_server::without_oidc_configured_its_paths_are_json_404s().await;
}
