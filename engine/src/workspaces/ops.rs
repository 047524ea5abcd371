//! The registration of the workspace, document, guest and storage
//! operations. Operations naming a business and managing it need an owner or
//! admin (the registry checks, as for members); those a guest may call too
//! (`workspace.list`, `doc.create`, `doc.list`, the `doc.*` operations on a
//! document name) need a signed-in user and check the caller's standing
//! inside (see `standing`).
//!
//! REST routes (a document name URL-encoded as one path segment:
//! `biz%2Fb1%2Fws%2Fw1%2Fd1`):
//!
//! | operation | route |
//! | --- | --- |
//! | `workspace.create` | `POST /businesses/{business_id}/workspaces` |
//! | `workspace.list` | `GET /businesses/{business_id}/workspaces?include_archived=` |
//! | `workspace.rename` | `PATCH /businesses/{business_id}/workspaces/{workspace_id}` |
//! | `workspace.archive` | `POST /businesses/{business_id}/workspaces/{workspace_id}/archive` |
//! | `workspace.unarchive` | `POST /businesses/{business_id}/workspaces/{workspace_id}/unarchive` |
//! | `doc.create` | `POST /businesses/{business_id}/workspaces/{workspace_id}/docs` |
//! | `doc.list` | `GET /businesses/{business_id}/workspaces/{workspace_id}/docs?include_archived=` |
//! | `doc.info` | `GET /docs/{doc}/info` |
//! | `doc.rename` | `PATCH /docs/{doc}` |
//! | `doc.move` | `POST /docs/{doc}/move` |
//! | `doc.archive` | `POST /docs/{doc}/archive` |
//! | `doc.unarchive` | `POST /docs/{doc}/unarchive` |
//! | `doc.delete` | `DELETE /docs/{doc}` |
//! | `doc.undelete` | `POST /docs/{doc}/undelete` |
//! | `doc.trash` | `GET /businesses/{business_id}/trash` |
//! | `guest.invite` | `POST /businesses/{business_id}/workspaces/{workspace_id}/guest-invitations` |
//! | `guest.accept` | `POST /guest-invitations/accept` |
//! | `guest.list` | `GET /businesses/{business_id}/workspaces/{workspace_id}/guests` |
//! | `guest.set_access` | `PATCH /businesses/{business_id}/workspaces/{workspace_id}/guests/{user_id}` |
//! | `guest.remove` | `DELETE /businesses/{business_id}/workspaces/{workspace_id}/guests/{user_id}` |
//! | `guest.invitation.revoke` | `DELETE /businesses/{business_id}/guest-invitations/{invitation_id}` |
//! | `business.storage` | `GET /businesses/{business_id}/storage` |

use std::future::Future;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Workspaces;
use super::params::{
    AcceptGuest, BusinessRef, CreateDoc, CreateWorkspace, DocRef, GuestInvitationRef, GuestRef,
    InviteGuest, ListDocs, ListWorkspaces, MoveDoc, RenameDoc, RenameWorkspace, SetGuestAccess,
    WorkspaceRef,
};
use crate::ops::{Ctx, HttpMethod, OpError, OpSpec, OpsBuilder, Permission};
use crate::tenancy::Role;

/// Owners and admins of the business named by `business_id`.
const ADMIN: Permission = Permission::Member(Role::Admin);

/// Any signed-in user (the handler checks member or guest standing).
const USER: Permission = Permission::User;

const WS: &str = "/businesses/{business_id}/workspaces/{workspace_id}";

impl Workspaces {
    /// Registers `spec` with `f` called on a clone of this service.
    fn op<P, R, F, Fut>(&self, ops: &mut OpsBuilder, spec: OpSpec, f: F)
    where
        P: DeserializeOwned + JsonSchema + Send + 'static,
        R: Serialize + JsonSchema + 'static,
        F: Fn(Workspaces, Ctx, P) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = Result<R, OpError>> + Send + 'static,
    {
        let ws = self.clone();
        ops.register(spec, move |ctx, p: P| f(ws.clone(), ctx, p));
    }

    /// Registers every operation of this service.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        self.register_workspace_ops(ops);
        self.register_doc_ops(ops);
        self.register_guest_ops(ops);
    }

    fn register_workspace_ops(&self, ops: &mut OpsBuilder) {
        use HttpMethod::{Get, Patch, Post};
        self.op(
            ops,
            OpSpec::write(
                "workspace.create",
                "Create a workspace in a business (owners and admins)",
                ADMIN,
                false,
            )
            .at(Post, "/businesses/{business_id}/workspaces"),
            |w, ctx, p: CreateWorkspace| async move { w.create_workspace(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::read("workspace.list", "The workspaces of a business the caller may see: all for members, their own for guests (archived ones on request)", USER)
                .at(Get, "/businesses/{business_id}/workspaces"),
            |w, ctx, p: ListWorkspaces| async move { w.list_workspaces(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write(
                "workspace.rename",
                "Rename a workspace (owners and admins)",
                ADMIN,
                true,
            )
            .at(Patch, WS),
            |w, ctx, p: RenameWorkspace| async move { w.rename_workspace(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write("workspace.archive", "Archive a workspace: its documents become read-only for everyone, live (owners and admins)", ADMIN, true)
                .at(Post, "/businesses/{business_id}/workspaces/{workspace_id}/archive"),
            |w, ctx, p: WorkspaceRef| async move { w.set_workspace_archived(&ctx, p, true).await },
        );
        self.op(
            ops,
            OpSpec::write(
                "workspace.unarchive",
                "Unarchive a workspace: its documents are writable again (owners and admins)",
                ADMIN,
                true,
            )
            .at(
                Post,
                "/businesses/{business_id}/workspaces/{workspace_id}/unarchive",
            ),
            |w, ctx, p: WorkspaceRef| async move { w.set_workspace_archived(&ctx, p, false).await },
        );
        self.op(
            ops,
            OpSpec::read("business.storage", "Bytes a business's documents store, per workspace and in total (owners and admins)", ADMIN)
                .at(Get, "/businesses/{business_id}/storage"),
            |w, _ctx, p: BusinessRef| async move { w.storage(p).await },
        );
    }

    fn register_doc_ops(&self, ops: &mut OpsBuilder) {
        use HttpMethod::{Delete, Get, Patch, Post};
        self.op(
            ops,
            OpSpec::write("doc.create", "Create a document in a workspace (members who edit documents, guests with write access); returns its name to open it by", USER, false)
                .at(Post, "/businesses/{business_id}/workspaces/{workspace_id}/docs"),
            |w, ctx, p: CreateDoc| async move { w.create_doc(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::read("doc.list", "The documents of a workspace with title, kind, creator, last edit and size (archived ones on request)", USER)
                .at(Get, "/businesses/{business_id}/workspaces/{workspace_id}/docs"),
            |w, ctx, p: ListDocs| async move { w.list_docs(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::read("doc.info", "One workspace document, by name", USER)
                .at(Get, "/docs/{doc}/info"),
            |w, ctx, p: DocRef| async move { w.doc_info(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write(
                "doc.rename",
                "Change a document's title (needs edit rights)",
                USER,
                true,
            )
            .at(Patch, "/docs/{doc}"),
            |w, ctx, p: RenameDoc| async move { w.rename_doc(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write("doc.move", "Move a document to another workspace of its business: it gets a new name; open editors are told (members who edit documents)", USER, true)
                .at(Post, "/docs/{doc}/move"),
            |w, ctx, p: MoveDoc| async move { w.move_doc(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write("doc.archive", "Archive a document: read-only for everyone, hidden from the default list (members who edit documents)", USER, true)
                .at(Post, "/docs/{doc}/archive"),
            |w, ctx, p: DocRef| async move { w.set_doc_archived(&ctx, p, true).await },
        );
        self.op(
            ops,
            OpSpec::write(
                "doc.unarchive",
                "Unarchive a document (members who edit documents)",
                USER,
                true,
            )
            .at(Post, "/docs/{doc}/unarchive"),
            |w, ctx, p: DocRef| async move { w.set_doc_archived(&ctx, p, false).await },
        );
        self.op(
            ops,
            OpSpec::write("doc.delete", "Delete a document: closed for everyone at once, content kept for the grace period (owners and admins)", USER, true)
                .at(Delete, "/docs/{doc}"),
            |w, ctx, p: DocRef| async move { w.delete_doc(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write("doc.undelete", "Take a deleted document out of the trash, within the grace period (owners and admins)", USER, true)
                .at(Post, "/docs/{doc}/undelete"),
            |w, ctx, p: DocRef| async move { w.undelete_doc(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::read(
                "doc.trash",
                "A business's deleted documents, with when each is purged (owners and admins)",
                ADMIN,
            )
            .at(Get, "/businesses/{business_id}/trash"),
            |w, _ctx, p: BusinessRef| async move { w.trash(p).await },
        );
    }

    fn register_guest_ops(&self, ops: &mut OpsBuilder) {
        use HttpMethod::{Delete, Get, Patch, Post};
        self.op(
            ops,
            OpSpec::write("guest.invite", "Invite someone who is not a member to one workspace, read or write, bound to their email: returns a token shown once (owners and admins)", ADMIN, false)
                .returns_secrets()
                .at(Post, "/businesses/{business_id}/workspaces/{workspace_id}/guest-invitations"),
            |w, ctx, p: InviteGuest| async move { w.invite_guest(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write("guest.accept", "Accept a guest invitation with the account of the invited email: the caller becomes a guest of the workspace", USER, false)
                .at(Post, "/guest-invitations/accept"),
            |w, ctx, p: AcceptGuest| async move { w.accept_guest(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::read(
                "guest.list",
                "A workspace's guests and pending guest invitations (owners and admins)",
                ADMIN,
            )
            .at(
                Get,
                "/businesses/{business_id}/workspaces/{workspace_id}/guests",
            ),
            |w, _ctx, p: WorkspaceRef| async move { w.list_guests(p).await },
        );
        self.op(
            ops,
            OpSpec::write("guest.set_access", "Change a guest's access (read or write), live for their open documents (owners and admins)", ADMIN, true)
                .at(Patch, "/businesses/{business_id}/workspaces/{workspace_id}/guests/{user_id}"),
            |w, ctx, p: SetGuestAccess| async move { w.set_guest_access(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write("guest.remove", "Remove a guest from a workspace: their open documents close at once (owners and admins)", ADMIN, false)
                .at(Delete, "/businesses/{business_id}/workspaces/{workspace_id}/guests/{user_id}"),
            |w, ctx, p: GuestRef| async move { w.remove_guest(&ctx, p).await },
        );
        self.op(
            ops,
            OpSpec::write(
                "guest.invitation.revoke",
                "Revoke a pending guest invitation (owners and admins)",
                ADMIN,
                true,
            )
            .at(
                Delete,
                "/businesses/{business_id}/guest-invitations/{invitation_id}",
            ),
            |w, ctx, p: GuestInvitationRef| async move { w.revoke_guest_invitation(&ctx, p).await },
        );
    }
}
