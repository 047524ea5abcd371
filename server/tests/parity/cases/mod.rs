//! The same-answer cases, one module per area, run in this order by
//! `every_operation_gives_the_same_answer_over_rest_and_the_socket`: each
//! step leaves the state the next one expects.

mod account;
mod business;
mod chat;
mod comments;
mod door;
mod endings;
mod invitations;
mod members;
mod platform;
mod sessions;
mod versions;
mod webhooks;
mod workspaces;

pub use account::{own_account, registration};
pub use business::business_reads_and_changes;
pub use chat::chat;
pub use comments::comments;
pub use door::door;
pub use endings::endings;
pub use invitations::invitations;
pub use members::members;
pub use platform::{demotion, platform_admin};
pub use sessions::sign_in_and_out;
pub use versions::versions;
pub use webhooks::webhooks;
pub use workspaces::workspaces;

/// The string at `pointer` in `v`.
pub fn str_at(v: &serde_json::Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("no {pointer} in {v}"))
        .to_string()
}
