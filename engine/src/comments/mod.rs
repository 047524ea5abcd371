//! Comment threads on documents: a thread is anchored to a place in a document
//! (an opaque string the client provides, e.g. a base64-encoded Yjs relative
//! position, kept and returned exactly as given) and holds comments; it can be
//! resolved and reopened.
//!
//! - [`topic`]: the `comments` topic of a document and its access rule.
//! - [`params`]: params, results, and the self-validating body and anchor.
//! - `store`: reading threads and comments (`comment_threads`, `comments`).
//! - `changes`: the operations that change state, each one transaction with
//!   the event it publishes.
//! - `ops`: the registration of the `comment.*` operations.
//!
//! # Access
//!
//! Comments follow the document's access ([`AccessPolicy`]): whoever may open
//! the document reads its comments (`comment.list`, and a subscription to its
//! comments topic); writing a comment, replying, resolving and reopening need a
//! read-write grant, so viewers read comments but cannot write them
//! (`forbidden`). Editing and deleting a comment is for its author only
//! (`forbidden` for others); editing also needs a read-write grant, deleting
//! one's own comment only needs to be able to open the document. A thread or
//! comment id that does not exist, or is on a document the caller cannot open,
//! is `not_found` either way, so ids reveal nothing; so is a document the caller
//! cannot open. Documents outside `biz/{id}/` and `user/{id}/` have no comments
//! (`invalid_argument`, field `doc`).
//!
//! # Events
//!
//! Each change appends one event, in its transaction, to the document's
//! comments topic: `biz/{b}/comments/{rest}` for `biz/{b}/{rest}`,
//! `user/{u}/comments/{rest}` for `user/{u}/{rest}` ([`comment_topic`]); kept
//! forever. A comment is `{id, thread_id, author_id, body, created_at,
//! edited_at, deleted_at}` (times epoch ms, `null` when not edited / deleted; a
//! deleted comment keeps its place with an empty body); a thread is `{id, doc,
//! anchor, created_by, created_at, resolved_at, resolved_by, comments}`.
//!
//! - `{"type": "thread.created", "thread": {...thread, comments: [first]}}`
//! - `{"type": "comment.added", "comment": {...comment}}`
//! - `{"type": "comment.edited", "comment": {...comment, body: new, edited_at}}`
//! - `{"type": "comment.deleted", "comment_id", "thread_id", "deleted_at"}`
//! - `{"type": "thread.resolved", "thread_id", "by", "at"}`
//! - `{"type": "thread.reopened", "thread_id", "by", "at"}`
//!
//! Resolving a resolved thread (or reopening an open one), deleting a deleted
//! comment, and an edit that does not change the body change nothing and
//! append no event. Replying to a resolved thread is allowed and leaves it
//! resolved.
//!
//! Bodies are 1 to 4000 characters (not only whitespace), stored exactly as
//! given: they are plain text, never interpreted as HTML or markdown by the
//! server, and clients must render them as text.

mod changes;
mod ops;
pub mod params;
mod store;
pub mod topic;

use std::sync::Arc;

pub use params::{Comment, Thread, ThreadList};
pub use topic::{CommentsAccess, comment_topic, doc_of_comment_topic};

use crate::access::AccessPolicy;
use crate::sql_store::SqlStore;
use crate::topics::{Retention, TopicKind, TopicKinds, Topics};

/// The topic kind of comment threads.
pub const KIND: &str = "comments";

/// Longest comment body, in characters.
pub const MAX_BODY_CHARS: usize = 4000;

/// Longest thread anchor, in characters.
pub const MAX_ANCHOR_CHARS: usize = 1024;

/// Registers the `comments` topic kind (kept forever; followed by whoever may
/// open the document, as `access` says). Call before [`Topics::start`].
pub fn register_kinds(kinds: &mut TopicKinds, access: Arc<dyn AccessPolicy>) {
    kinds.register(TopicKind {
        name: KIND,
        retention: Retention::FOREVER,
        latest_value: false,
        access: Arc::new(CommentsAccess::new(access)),
    });
}

/// The comments service. Cheap to clone.
#[derive(Clone)]
pub struct Comments {
    db: SqlStore,
    topics: Topics,
    access: Arc<dyn AccessPolicy>,
}

impl Comments {
    /// Comments in `db`, events on `topics`, document access from `access`.
    pub fn new(db: SqlStore, topics: Topics, access: Arc<dyn AccessPolicy>) -> Comments {
        Comments { db, topics, access }
    }
}
