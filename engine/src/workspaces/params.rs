//! The params and results of the workspace, document, guest and storage
//! operations.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

use crate::ops::params::{Email, Id, Text, lenient_u32};

/// A workspace name.
pub type WorkspaceName = Text<1, 120>;

/// A document title.
pub type Title = Text<1, 200>;

/// What a document holds (clients choose the editor by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// Rich text.
    Text,
    /// A table.
    Table,
    /// An inventory sheet.
    Inventory,
    /// A board (columns of cards).
    Board,
    /// Anything else.
    Other,
}

impl DocKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Text => "text",
            DocKind::Table => "table",
            DocKind::Inventory => "inventory",
            DocKind::Board => "board",
            DocKind::Other => "other",
        }
    }

    /// Parses the stored spelling (anything unknown is `other`).
    pub fn parse(s: &str) -> DocKind {
        match s {
            "text" => DocKind::Text,
            "table" => DocKind::Table,
            "inventory" => DocKind::Inventory,
            "board" => DocKind::Board,
            _ => DocKind::Other,
        }
    }
}

/// What a guest may do in their workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuestAccess {
    /// Open its documents read-only.
    Read,
    /// Open and edit its documents, and create documents in it.
    Write,
}

impl GuestAccess {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestAccess::Read => "read",
            GuestAccess::Write => "write",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<GuestAccess> {
        match s {
            "read" => Some(GuestAccess::Read),
            "write" => Some(GuestAccess::Write),
            _ => None,
        }
    }
}

/// Reads a flag given as a JSON boolean or as `true`/`false` text (query
/// strings carry only strings).
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrText {
        Bool(bool),
        Text(String),
    }
    match Option::<BoolOrText>::deserialize(d)? {
        None => Ok(None),
        Some(BoolOrText::Bool(b)) => Ok(Some(b)),
        Some(BoolOrText::Text(s)) => match s.as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom("must be true or false")),
        },
    }
}

/// Params of `workspace.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspace {
    /// The business.
    pub business_id: Id,
    /// The workspace's name.
    pub name: WorkspaceName,
}

/// Params naming a workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceRef {
    /// The business.
    pub business_id: Id,
    /// The workspace.
    pub workspace_id: Id,
}

/// Params of `workspace.rename`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameWorkspace {
    /// The business.
    pub business_id: Id,
    /// The workspace.
    pub workspace_id: Id,
    /// Its new name.
    pub name: WorkspaceName,
}

/// Params of `workspace.list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListWorkspaces {
    /// The business.
    pub business_id: Id,
    /// Also list archived workspaces (default false).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub include_archived: Option<bool>,
}

/// Params of `doc.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDoc {
    /// The business.
    pub business_id: Id,
    /// The workspace.
    pub workspace_id: Id,
    /// Its title.
    pub title: Title,
    /// What it holds: `text`, `table`, `inventory`, `board` or `other`.
    pub kind: DocKind,
}

/// Params of `doc.list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDocs {
    /// The business.
    pub business_id: Id,
    /// The workspace.
    pub workspace_id: Id,
    /// Also list archived documents (default false).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub include_archived: Option<bool>,
}

/// Params naming a document.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocRef {
    /// The document's name (`biz/{business_id}/ws/{workspace_id}/{doc_id}`).
    pub doc: String,
}

/// Params of `doc.rename`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDoc {
    /// The document's name.
    pub doc: String,
    /// Its new title.
    pub title: Title,
}

/// Params of `doc.move`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveDoc {
    /// The document's name.
    pub doc: String,
    /// The workspace (of the same business) to move it to.
    pub workspace_id: Id,
}

/// Params naming a business.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessRef {
    /// The business.
    pub business_id: Id,
}

/// Params of `guest.invite`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteGuest {
    /// The business.
    pub business_id: Id,
    /// The workspace the guest gets access to.
    pub workspace_id: Id,
    /// The guest's email: only the account with this email may accept.
    pub email: Email,
    /// `read` or `write`.
    pub access: GuestAccess,
    /// How long the invitation works, in hours (1 to 720; default 168, 7 days).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub expires_in_hours: Option<u32>,
}

/// Params of `guest.accept`. (No `Debug`: it holds the token.)
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptGuest {
    /// The token from `guest.invite`.
    pub token: Text<1, 128>,
}

/// Params naming a guest of a workspace.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestRef {
    /// The business.
    pub business_id: Id,
    /// The workspace.
    pub workspace_id: Id,
    /// The guest.
    pub user_id: Id,
}

/// Params of `guest.set_access`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetGuestAccess {
    /// The business.
    pub business_id: Id,
    /// The workspace.
    pub workspace_id: Id,
    /// The guest.
    pub user_id: Id,
    /// `read` or `write`.
    pub access: GuestAccess,
}

/// Params of `guest.invitation.revoke`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestInvitationRef {
    /// The business.
    pub business_id: Id,
    /// The invitation.
    pub invitation_id: Id,
}

/// A workspace.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Workspace {
    /// Its id.
    pub id: String,
    /// Its business.
    pub business_id: String,
    /// Its name.
    pub name: String,
    /// Who created it.
    pub created_by: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// When it was archived, while it is (its documents are read-only).
    pub archived_at: Option<i64>,
    /// The caller's access as a guest of it; absent for members.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_access: Option<GuestAccess>,
}

/// The workspaces of a business the caller may see.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkspaceList {
    /// Oldest first.
    pub workspaces: Vec<Workspace>,
}

/// A document.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DocInfo {
    /// Its stable id.
    pub id: String,
    /// Its name: `biz/{business_id}/ws/{workspace_id}/{id}` (changes when it
    /// moves; open it by this name).
    pub name: String,
    /// Its business.
    pub business_id: String,
    /// Its workspace.
    pub workspace_id: String,
    /// Its title.
    pub title: String,
    /// What it holds.
    pub kind: DocKind,
    /// Who created it.
    pub created_by: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// When it was last edited, once it was.
    pub last_edited_at: Option<i64>,
    /// Who edited it last, once someone did.
    pub last_edited_by: Option<String>,
    /// Its stored size (snapshot plus update log), bytes, as of its last edit.
    pub size_bytes: i64,
    /// When it was archived, while it is (read-only).
    pub archived_at: Option<i64>,
    /// When it was deleted, while it is in the trash.
    pub deleted_at: Option<i64>,
    /// When a deleted document is purged for good (epoch ms).
    pub purge_at: Option<i64>,
}

/// Documents.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocList {
    /// The documents.
    pub docs: Vec<DocInfo>,
}

/// A new guest invitation, with its token (shown this once; only its hash is
/// kept). (No `Debug`: the token must not reach a log line.)
#[derive(Serialize, JsonSchema)]
pub struct NewGuestInvitation {
    /// The invitation's id (for `guest.invitation.revoke`).
    pub invitation_id: String,
    /// The secret to hand to the guest, who passes it to `guest.accept`.
    pub token: String,
    /// The business.
    pub business_id: String,
    /// The workspace.
    pub workspace_id: String,
    /// The only email whose account may accept it.
    pub email: String,
    /// The access it grants.
    pub access: GuestAccess,
    /// When it stops working (epoch ms).
    pub expires_at: i64,
}

/// A guest of a workspace.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Guest {
    /// The guest's user id.
    pub user_id: String,
    /// Their display name.
    pub display_name: String,
    /// Their email.
    pub email: Option<String>,
    /// Their access.
    pub access: GuestAccess,
    /// Who granted it (user id).
    pub granted_by: String,
    /// When (epoch ms).
    pub granted_at: i64,
}

/// A guest invitation not yet accepted, revoked or expired (never its token).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PendingGuestInvitation {
    /// Its id.
    pub invitation_id: String,
    /// The email it is bound to.
    pub email: String,
    /// The access it grants.
    pub access: GuestAccess,
    /// Who made it (user id).
    pub invited_by: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// When it stops working (epoch ms).
    pub expires_at: i64,
}

/// The guests of a workspace and its pending invitations.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Guests {
    /// The workspace.
    pub workspace_id: String,
    /// Its guests, in the order they joined.
    pub guests: Vec<Guest>,
    /// Its pending invitations, oldest first.
    pub invitations: Vec<PendingGuestInvitation>,
}

/// Bytes stored for a set of documents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
pub struct Usage {
    /// How many documents (deleted ones in the trash included).
    pub docs: i64,
    /// Their update logs and snapshots, bytes.
    pub content_bytes: i64,
    /// Their saved versions, bytes.
    pub version_bytes: i64,
    /// Both, bytes.
    pub total_bytes: i64,
}

/// The storage of one workspace.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WorkspaceUsage {
    /// The workspace.
    pub workspace_id: String,
    /// Its name.
    pub name: String,
    /// What its documents store.
    #[serde(flatten)]
    pub usage: Usage,
}

/// What a business stores.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Storage {
    /// The business.
    pub business_id: String,
    /// Per workspace, in the order they were created.
    pub workspaces: Vec<WorkspaceUsage>,
    /// The business's documents outside workspaces (`biz/{id}/inventory`, ...).
    pub other: Usage,
    /// Everything.
    pub total: Usage,
}
