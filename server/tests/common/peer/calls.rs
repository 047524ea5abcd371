//! Operations over a native peer: `call` and its `reply`.

use goonline_protocol::native::{ClientFrame, ServerFrame};

use super::Peer;
use crate::common::WAIT;

impl Peer {
    /// Runs an operation over the native socket and waits for its reply.
    pub async fn call(
        &mut self,
        method: &str,
        params: serde_json::Value,
        idempotency_key: Option<&str>,
    ) -> Result<serde_json::Value, goonline_protocol::native::CallError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            ClientFrame::Call {
                id,
                method: method.into(),
                params,
                idempotency_key: idempotency_key.map(str::to_string),
            }
            .encode(),
        )
        .await;
        let is_reply = |f: &ServerFrame| matches!(f, ServerFrame::Reply { id: i, .. } if *i == id);
        assert!(
            self.until(WAIT, |p| p.frames.iter().any(is_reply)).await,
            "no reply to `{method}`"
        );
        let at = self.frames.iter().position(is_reply).expect("reply");
        match self.frames.remove(at) {
            ServerFrame::Reply {
                result: Some(r), ..
            } => Ok(r),
            ServerFrame::Reply { error: Some(e), .. } => Err(e),
            other => panic!("malformed reply {other:?}"),
        }
    }
}
