//! `goonline-loadgen`: drives GoOnline, Hocuspocus, @y/websocket-server and the
//! raw broadcast floor with the same light clients, and measures them side by side.
//!
//! Clients decode frames and timestamp arrivals but keep no Yjs document (except
//! in verify mode): edits are matched by the writer's client id and clock read
//! from each update's struct headers ([`yupdate`]), so servers that merge updates
//! are counted correctly. See `benches/README.md` for the scenarios and figures.

pub mod coldload;
pub mod connect;
pub mod durable;
pub mod edits;
pub mod histogram;
pub mod idle;
pub mod presence;
pub mod procstat;
pub mod record;
pub mod report;
pub mod scenarios;
pub mod swarm;
pub mod tally;
pub mod topics;
pub mod wire;
pub mod yupdate;
