//! What happens to one message Redis pushed to the subscriber connection:
//! decode it, drop the node's own echoes, and hand it to every attached
//! handler.
//!
//! The bytes come from the network, so nothing here may panic: a message
//! that does not parse is counted, logged and dropped, and the receivers'
//! sequence checks repair whatever it carried from the store.

use std::time::Duration;

use super::shared::Shared;
use crate::bus::wire;
use crate::metrics::inc;

/// Handles one pushed `message` on the pub/sub channel `name`.
pub(super) fn receive(shared: &Shared, name: &str, body: &[u8]) {
    let channel = match wire::parse_channel(&shared.prefix, name) {
        Ok(channel) => channel,
        Err(e) => return undecodable(shared, name, &e),
    };
    let msg = match wire::decode(channel, body) {
        Ok(msg) => msg,
        Err(e) => return undecodable(shared, name, &e),
    };
    let handlers = shared.handlers();
    // Redis sends a node its own publications on every channel it subscribes
    // to; they are not news to anyone here.
    if !handlers.is_empty() && handlers.iter().all(|h| h.node_id() == msg.origin) {
        return;
    }
    if shared.fault.should_drop(&msg.payload) {
        inc(&shared.metrics.bus_fault_drops);
        return;
    }
    // Clocks of different nodes disagree a little: a message can seem to
    // arrive before it was sent.
    let lag_ms = (crate::now_ms() - msg.sent_at).max(0) as u64;
    shared
        .metrics
        .bus_lag_seconds
        .observe(Duration::from_millis(lag_ms));
    inc(&shared.metrics.bus_received);
    for handler in handlers {
        if handler.node_id() != msg.origin {
            handler.deliver(&msg);
        }
    }
}

fn undecodable(shared: &Shared, name: &str, error: &wire::WireError) {
    inc(&shared.metrics.bus_decode_errors);
    tracing::warn!(channel = %name, %error, "dropped an undecodable bus message");
}
