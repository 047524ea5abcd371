//! Rate limits: the token buckets live in the engine (operations such as chat
//! sends use them too); the server uses them for sign-in attempts and frames.

pub use goonline_engine::limits::{FrameBudget, RateLimiter};
