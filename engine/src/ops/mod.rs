//! Operations: named methods with typed params and results, the permission each
//! needs and whether it changes state; defined once, served over the native
//! socket (`call`/`reply`) and REST (`/api/...`) by the server, with the same
//! checks and the same errors.
//!
//! - [`spec`]: what an operation declares ([`OpSpec`], [`Permission`]).
//! - [`registry`]: registration and the one `call` path ([`Registry`]).
//! - [`params`]: self-validating parameter types and params decoding.
//! - [`idempotency`]: idempotency keys for state-changing calls.
//! - [`error`]: the one error shape ([`OpError`]).
//! - [`caller`]: who is calling ([`Caller`]).

pub mod caller;
pub mod error;
pub mod idempotency;
pub mod params;
pub mod registry;
pub mod spec;

pub use caller::{Caller, Transport, UserRef};
pub use error::{ErrorBody, OpError};
pub use registry::{BoxFuture, Ctx, OpsBuilder, Registry, RoleLookup};
pub use spec::{HttpMethod, OpSpec, Permission, RestRoute};
