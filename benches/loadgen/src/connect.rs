//! Opening a load client's socket and syncing it with a document.
//!
//! Clients use 4 KiB socket buffers (thousands of them share the machine with the
//! server under test) and no Nagle delay. A client counts as joined only once the
//! server's sync step 2 arrived: a socket is open before the server has joined it
//! to the room, and an edit sent in between would miss it.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::wire::{Dialect, Incoming};

/// A load client's socket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Why a client could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The TCP or WebSocket handshake failed.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// Where.
        url: String,
        /// Why.
        source: tokio_tungstenite::tungstenite::Error,
    },
    /// The server did not send the document's state in time.
    #[error("no sync step 2 from {url} for `{doc}` within {secs} s")]
    Timeout {
        /// Where.
        url: String,
        /// Which document.
        doc: String,
        /// How long we waited.
        secs: u64,
    },
    /// The server closed the socket or refused the document.
    #[error("joining `{doc}` failed: {reason}")]
    Refused {
        /// Which document.
        doc: String,
        /// What the server said.
        reason: String,
    },
}

/// How long a client waits for its sync step 2.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Opens a socket to `url`.
pub async fn connect(url: &str) -> Result<Ws, JoinError> {
    let config = WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(64 << 20));
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
        .await
        .map_err(|source| JoinError::Connect {
            url: url.to_string(),
            source,
        })?;
    Ok(ws)
}

/// Opens a socket for `doc`, asks for its state and waits until it arrives.
/// Returns the socket and the state (a Yjs update).
pub async fn join(dialect: Dialect, base: &str, doc: &str) -> Result<(Ws, Vec<u8>), JoinError> {
    let url = dialect.url(base, doc);
    let mut ws = connect(&url).await?;
    for frame in dialect.join(doc) {
        ws.feed(Message::Binary(frame))
            .await
            .map_err(|e| refused(doc, e))?;
    }
    ws.flush().await.map_err(|e| refused(doc, e))?;
    let wait = async {
        let mut scratch = Vec::new();
        loop {
            let frame = match ws.next().await {
                Some(Ok(Message::Binary(b))) => b,
                Some(Ok(Message::Close(c))) => {
                    return Err(JoinError::Refused {
                        doc: doc.into(),
                        reason: format!("closed by the server: {c:?}"),
                    });
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(refused(doc, e)),
                None => return Err(refused(doc, "socket closed")),
            };
            let reply = match dialect.classify(&frame, &mut scratch) {
                Incoming::Step2(state) => return Ok(state.to_vec()),
                Incoming::Step1 => dialect.step2_empty(doc),
                Incoming::Ping => dialect.pong(),
                Incoming::Refused(reason) => return Err(refused(doc, reason)),
                _ => continue,
            };
            ws.send(Message::Binary(reply))
                .await
                .map_err(|e| refused(doc, e))?;
        }
    };
    let state = tokio::time::timeout(JOIN_TIMEOUT, wait)
        .await
        .map_err(|_| JoinError::Timeout {
            url: url.clone(),
            doc: doc.into(),
            secs: JOIN_TIMEOUT.as_secs(),
        })??;
    Ok((ws, state))
}

fn refused(doc: &str, reason: impl std::fmt::Display) -> JoinError {
    JoinError::Refused {
        doc: doc.into(),
        reason: reason.to_string(),
    }
}
