//! The registration of the `comment.*` operations (handlers in `changes.rs`).
//! All need a signed-in user ([`Permission::User`]); access to the document is
//! checked inside, as the module overview says.
//!
//! REST routes (a document name URL-encoded as one path segment, as for
//! topics: `biz%2Fb1%2Finventory`):
//!
//! | operation | route |
//! | --- | --- |
//! | `comment.list` | `GET /docs/{doc}/comments?include_resolved=` |
//! | `comment.thread.create` | `POST /docs/{doc}/comments` |
//! | `comment.reply` | `POST /comment-threads/{thread_id}/comments` |
//! | `comment.resolve` | `POST /comment-threads/{thread_id}/resolve` |
//! | `comment.reopen` | `POST /comment-threads/{thread_id}/reopen` |
//! | `comment.edit` | `PATCH /comments/{comment_id}` |
//! | `comment.delete` | `DELETE /comments/{comment_id}` |

use super::Comments;
use super::params::{CommentRef, CreateThread, Edit, ListThreads, Reply, ThreadRef};
use crate::ops::{HttpMethod, OpSpec, OpsBuilder, Permission};

impl Comments {
    /// Registers the `comment.*` operations.
    pub fn register_ops(&self, ops: &mut OpsBuilder) {
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "comment.thread.create",
                "Start a comment thread on a document, optionally anchored (needs write access to the document)",
                Permission::User,
                false,
            )
            .at(HttpMethod::Post, "/docs/{doc}/comments"),
            move |ctx, p: CreateThread| {
                let c = c.clone();
                async move { c.create_thread(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "comment.reply",
                "Add a comment to a thread (needs write access to its document)",
                Permission::User,
                false,
            )
            .at(HttpMethod::Post, "/comment-threads/{thread_id}/comments"),
            move |ctx, p: Reply| {
                let c = c.clone();
                async move { c.reply(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "comment.edit",
                "Change the text of one's own comment",
                Permission::User,
                true,
            )
            .at(HttpMethod::Patch, "/comments/{comment_id}"),
            move |ctx, p: Edit| {
                let c = c.clone();
                async move { c.edit(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "comment.delete",
                "Delete one's own comment (it stays in its thread as a tombstone)",
                Permission::User,
                true,
            )
            .at(HttpMethod::Delete, "/comments/{comment_id}"),
            move |ctx, p: CommentRef| {
                let c = c.clone();
                async move { c.delete(&ctx, p).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "comment.resolve",
                "Mark a thread resolved (needs write access to its document; resolving a resolved thread changes nothing)",
                Permission::User,
                true,
            )
            .at(HttpMethod::Post, "/comment-threads/{thread_id}/resolve"),
            move |ctx, p: ThreadRef| {
                let c = c.clone();
                async move { c.set_resolved(&ctx, p.thread_id.as_str(), true).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::write(
                "comment.reopen",
                "Reopen a resolved thread (needs write access to its document; reopening an open thread changes nothing)",
                Permission::User,
                true,
            )
            .at(HttpMethod::Post, "/comment-threads/{thread_id}/reopen"),
            move |ctx, p: ThreadRef| {
                let c = c.clone();
                async move { c.set_resolved(&ctx, p.thread_id.as_str(), false).await }
            },
        );
        let c = self.clone();
        ops.register(
            OpSpec::read(
                "comment.list",
                "A document's comment threads with their comments, oldest first (resolved ones on request)",
                Permission::User,
            )
            .at(HttpMethod::Get, "/docs/{doc}/comments"),
            move |ctx, p: ListThreads| {
                let c = c.clone();
                async move { c.list(&ctx, p).await }
            },
        );
    }
}
