//! Tenancy: businesses, their members and roles.
//!
//! - [`role`]: the roles and what each may do.
//! - [`store`]: the SQL behind businesses and memberships ([`Tenancy`]).
//! - [`ops`]: the `business.*`, `member.*` and `agent.*` operations.
//! - [`invitations`]: `member.invite` and the `invitation.*` operations (tokens
//!   that let people without an account yet join, or own, a business).
//!
//! A membership change that narrows someone's access (removal, downgrade, a
//! deleted business) tells the engine at once, so that user's open sessions lose
//! write access or the documents within a second, without reconnecting.

mod changes;
pub mod invitations;
pub mod ops;
pub mod role;
pub mod store;

pub use role::Role;
pub use store::{Business, Member, Tenancy};
