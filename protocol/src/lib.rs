//! GoOnline wire formats, sans-IO.
//!
//! Everything that crosses a socket is defined here and nothing else: no tokio, no
//! sockets, no state. The engine and the server decode frames with these types and
//! encode their answers with them, so the byte layout of every dialect is fixed in
//! one crate and tested with fixed byte vectors.
//!
//! - [`native`]: our own protocol, one MessagePack map per binary frame (`/v1/ws`).
//! - [`ywebsocket`]: the y-websocket framing (`/y/{doc}`).
//! - [`hocuspocus`]: the Hocuspocus framing (`/hocuspocus`).
//! - [`sync`] and [`awareness`]: the y-protocols messages carried by all three.
//! - [`lib0`]: the variable-length integer and byte-array encoding Yjs uses.
//! - [`codes`]: error codes and WebSocket close codes shared by every dialect.

pub mod awareness;
pub mod codes;
pub mod hocuspocus;
pub mod lib0;
pub mod native;
pub mod sync;
pub mod ywebsocket;
