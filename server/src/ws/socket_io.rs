//! Writing to the socket: a batch of frames within the write timeout (a client
//! that stops reading is dropped, not waited on), and the closing handshake.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use goonline_engine::metrics::add;
use goonline_engine::outbound::KillSwitch;

use super::ConnSettings;

/// Writes and flushes `frames` within the write timeout. A client that does not
/// read is closed as a slow consumer instead of holding the task forever.
pub(super) async fn write(
    socket: &mut WebSocket,
    frames: Vec<Message>,
    cfg: &ConnSettings,
    kill: &KillSwitch,
) -> Result<(), ()> {
    let metrics = &cfg.metrics;
    let n = frames.len() as u64;
    let bytes: usize = frames
        .iter()
        .map(|m| match m {
            Message::Binary(b) => b.len(),
            _ => 0,
        })
        .sum();
    let send_all = async {
        for m in frames {
            socket.feed(m).await?;
        }
        socket.flush().await
    };
    // A session the engine killed (its queue overflowed while this write was
    // blocked) is dropped at once: waiting out the write timeout would only keep
    // its memory.
    // Biased to the write: frames that can go out at once still do after a kill
    // (the reply to the `auth.logout` that closed this very connection).
    let outcome = tokio::select! {
        biased;
        r = tokio::time::timeout(cfg.write_timeout, send_all) => r,
        _ = kill.killed() => return Err(()),
    };
    match outcome {
        Ok(Ok(())) => {
            add(&metrics.frames_out, n);
            add(&metrics.bytes_out, bytes as u64);
            Ok(())
        }
        Ok(Err(_)) => Err(()),
        Err(_) => {
            metrics.slow_consumer_closes.fetch_add(1, Ordering::Relaxed);
            tracing::info!("closing connection: writes blocked past the write timeout");
            Err(())
        }
    }
}

/// Sends a close frame (reason truncated to the 123 bytes a close frame allows) and
/// closes the socket.
pub(super) async fn close_socket(socket: &mut WebSocket, code: u16, reason: &str) {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: reason[..end].into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        // Read until the client's Close: closing with its frames still unread
        // makes the kernel answer with a reset, and the client may then never
        // see our close code (the closing handshake of RFC 6455 §7.1.1).
        while let Some(Ok(msg)) = socket.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
        let _ = socket.close().await;
    })
    .await;
}
