//! The REST API and HTTP hygiene, over real HTTP against a real server: errors
//! in the one JSON shape with the right statuses and headers (never a 500 for
//! bad input), the body limit, the OpenAPI document, security headers and CORS,
//! and a signed-in round trip through resource routes and `/api/ops`.
//!
//! Each test is declared here and runs its body from the module of its
//! subject: `errors` (the error shape, statuses, body limit, rate limits),
//! `openapi`, `headers` (security headers and CORS), `round_trip`.

#[path = "../common/mod.rs"]
mod common;

mod errors;
mod headers;
mod openapi;
mod round_trip;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_calls_to_user_operations_are_unauthorized() {
    errors::anonymous_calls_to_user_operations_are_unauthorized().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_tokens_are_unauthorized_even_for_public_operations() {
    errors::refused_tokens_are_unauthorized_even_for_public_operations().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_operations_and_routes_are_not_found() {
    errors::unknown_operations_and_routes_are_not_found().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_invalid_argument() {
    errors::malformed_bodies_are_invalid_argument().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_413() {
    errors::oversized_bodies_are_refused_with_413().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_describes_every_operation() {
    openapi::the_openapi_document_describes_every_operation().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_security_headers_and_hsts_only_with_tls() {
    headers::every_response_carries_security_headers_and_hsts_only_with_tls().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_allowed_origins_only() {
    headers::cors_answers_allowed_origins_only().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_see_the_client_address_and_send_retry_after() {
    errors::rate_limits_see_the_client_address_and_send_retry_after().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_user_works_through_resource_routes_and_ops() {
    round_trip::a_registered_user_works_through_resource_routes_and_ops().await;
}
