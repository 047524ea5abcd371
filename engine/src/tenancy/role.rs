//! Roles a member holds in a business, and what each allows.
//!
//! The roles are ordered by what they may do: every role may do what the roles
//! below it may. `viewer` reads; `agent` also edits documents and onboards
//! businesses; `admin` also manages products, orders, agents and members below
//! owner; `owner` also deletes the business and manages owners.

use serde::{Deserialize, Serialize};

/// A member's role in one business.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read-only: listings, documents, reports.
    Viewer,
    /// Onboards businesses and sees its own attributions; edits documents.
    Agent,
    /// Manages products, orders, agents and members below owner.
    Admin,
    /// Full control, including deleting the business and managing owners.
    Owner,
}

impl Role {
    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }

    /// Whether this role may change documents of its business.
    pub fn can_edit_docs(self) -> bool {
        self >= Role::Agent
    }

    /// Whether a member with this role may grant, change or revoke `target` (the
    /// member's current role or the role being granted). Owners manage everyone;
    /// admins manage everyone below owner.
    pub fn can_manage(self, target: Role) -> bool {
        match self {
            Role::Owner => true,
            Role::Admin => target < Role::Owner,
            _ => false,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
