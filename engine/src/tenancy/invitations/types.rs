//! The invitation operations' params and results, and their tokens: random,
//! shown once, stored as a SHA-256 hash.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ops::OpError;
use crate::ops::idempotency::hex;
use crate::ops::params::{Email, Id, Text};
use crate::tenancy::Role;

/// How long an invitation works: 7 days, in milliseconds.
pub const INVITATION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// An invitation token as presented (those handed out are 43 characters).
type Token = Text<1, 128>;

/// Params of `member.invite`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteMember {
    /// The business.
    pub business_id: Id,
    /// The role the invitee gets.
    pub role: Role,
    /// Whom the invitation is for (informational: anyone holding the token may
    /// accept it).
    #[serde(default)]
    pub email: Option<Email>,
}

/// A new invitation, with its token (shown this once; only its hash is kept).
/// (No `Debug`: the token must not reach a log line.)
#[derive(Serialize, JsonSchema)]
pub struct NewInvitation {
    /// The invitation's id (for `invitation.revoke`).
    pub invitation_id: String,
    /// The secret to hand to the invitee, who passes it to `invitation.accept`.
    pub token: String,
    /// The role it grants.
    pub role: Role,
    /// When it stops working, epoch milliseconds.
    pub expires_at: i64,
}

/// Params of `invitation.accept`. (No `Debug`: it holds the token.)
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The token from `member.invite`.
    pub token: Token,
}

/// Params naming an invitation.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRef {
    /// The business.
    pub business_id: Id,
    /// The invitation.
    pub invitation_id: Id,
}

/// Params naming a business.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationsOf {
    /// The business.
    pub business_id: Id,
}

/// A pending invitation (never its token).
#[derive(Debug, Serialize, JsonSchema)]
pub struct PendingInvitation {
    /// Its id.
    pub invitation_id: String,
    /// Whom it is for, if the inviter said.
    pub email: Option<String>,
    /// The role it grants.
    pub role: Role,
    /// Who made it (user id).
    pub invited_by: String,
    /// When, epoch milliseconds.
    pub created_at: i64,
    /// When it stops working, epoch milliseconds.
    pub expires_at: i64,
}

/// The pending invitations of a business.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Invitations {
    /// Oldest first.
    pub invitations: Vec<PendingInvitation>,
}

/// A fresh token: 32 random bytes, base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How a token is stored: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The one answer for a token that does not work, whatever the reason.
pub(super) fn no_invitation() -> OpError {
    OpError::NotFound("no such invitation: it may have expired, been used or been revoked".into())
}
