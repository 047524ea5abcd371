//! The comment operations: access checks against the document, and the
//! changes, each one transaction with the event it appends to the document's
//! comments topic (published once the transaction has committed).

use serde_json::{Value, json};

use super::params::{
    Comment, CommentRef, CreateThread, Edit, ListThreads, Reply, Thread, ThreadList,
};
use super::store::{self, COMMENT_COLUMNS, comment_from};
use super::{Comments, comment_topic};
use crate::access::{Grant, Principal, Refusal};
use crate::clock::now_ms;
use crate::ops::{Ctx, OpError};
use crate::sql_store::begin_write;
use crate::topics::Appended;
use crate::topics::ops::op_error;

fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> OpError {
    move |e| OpError::from_db(context, e)
}

/// The comments topic of `doc`, or `invalid_argument` naming `doc`.
fn topic_for(doc: &str) -> Result<String, OpError> {
    comment_topic(doc).ok_or_else(|| {
        OpError::invalid(
            "doc",
            "only documents named biz/{business_id}/{name} or user/{user_id}/{name} have comments",
        )
    })
}

/// Writing needs a read-write grant: viewers read comments only.
fn writable(grant: Grant) -> Result<(), OpError> {
    match grant {
        Grant::ReadWrite => Ok(()),
        Grant::ReadOnly => Err(OpError::Forbidden(
            "you may read this document's comments but not write them (viewers are read-only)"
                .into(),
        )),
    }
}

fn no_thread(id: &str) -> OpError {
    OpError::NotFound(format!("no comment thread `{id}`"))
}

fn no_comment(id: &str) -> OpError {
    OpError::NotFound(format!("no comment `{id}`"))
}

impl Comments {
    /// What the caller may do with `doc`; a refusal becomes `hidden` (the
    /// thing asked about is not revealed to someone who cannot open it).
    async fn grant(&self, ctx: &Ctx, doc: &str, hidden: OpError) -> Result<Grant, OpError> {
        let who = Principal {
            session_id: String::new(),
            user: Some(ctx.user()?.clone()),
        };
        match self.access.grant(&who, doc).await {
            Ok(g) => Ok(g),
            Err(Refusal::Unauthorized(m)) => Err(OpError::Unauthorized(m)),
            Err(Refusal::Forbidden(_)) => Err(hidden),
            Err(Refusal::Unavailable(m)) => Err(OpError::Unavailable(m)),
        }
    }

    /// The document of thread `id` and the caller's grant on it; `not_found` alike for an unknown thread and one the caller
    /// cannot see.
    async fn thread_access(&self, ctx: &Ctx, id: &str) -> Result<(String, Grant), OpError> {
        let doc = store::doc_of_thread(self.db.pool(), id)
            .await
            .map_err(db_err("comment thread lookup"))?
            .ok_or_else(|| no_thread(id))?;
        let grant = self.grant(ctx, &doc, no_thread(id)).await?;
        Ok((doc, grant))
    }

    /// Appends `data` to `doc`'s comments topic in `tx`, commits, publishes.
    /// `subject`: the comment whose text the event carries (blanked if it is
    /// deleted).
    async fn commit_with_event(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Any>,
        doc: &str,
        subject: Option<&str>,
        data: Value,
        context: &'static str,
    ) -> Result<(), OpError> {
        let topic = topic_for(doc)?;
        let appended: Appended = self
            .topics
            .append_about(&mut tx, &topic, subject, |_| data)
            .await
            .map_err(op_error)?;
        tx.commit().await.map_err(db_err(context))?;
        self.topics.publish(appended);
        Ok(())
    }

    /// `comment.thread.create`: the thread, its first comment and
    /// `thread.created`, in one transaction.
    pub(super) async fn create_thread(
        &self,
        ctx: &Ctx,
        p: CreateThread,
    ) -> Result<Thread, OpError> {
        const CX: &str = "comment.thread.create";
        let me = ctx.user()?.id.clone();
        topic_for(&p.doc)?;
        let hidden = OpError::NotFound(format!("no document `{}` you can open", p.doc));
        writable(self.grant(ctx, &p.doc, hidden).await?)?;
        let now = now_ms();
        let id = uuid::Uuid::now_v7().to_string();
        let first = Comment {
            id: uuid::Uuid::now_v7().to_string(),
            thread_id: id.clone(),
            author_id: me.clone(),
            body: p.body.as_str().to_string(),
            created_at: now,
            edited_at: None,
            deleted_at: None,
        };
        let thread = Thread {
            id,
            doc: p.doc,
            anchor: p.anchor.map(|a| a.as_str().to_string()),
            created_by: me,
            created_at: now,
            resolved_at: None,
            resolved_by: None,
            comments: Vec::new(),
        };
        let mut tx = begin_write(self.db.pool()).await.map_err(db_err(CX))?;
        sqlx::query(
            "INSERT INTO comment_threads (id, doc, anchor, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&thread.id)
        .bind(&thread.doc)
        .bind(thread.anchor.as_deref())
        .bind(&thread.created_by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        insert_comment(&mut tx, &first).await.map_err(db_err(CX))?;
        let thread = Thread {
            comments: vec![first],
            ..thread
        };
        let event = json!({ "type": "thread.created", "thread": thread });
        let first = thread.comments.first().map(|c| c.id.clone());
        self.commit_with_event(tx, &thread.doc, first.as_deref(), event, CX)
            .await?;
        Ok(thread)
    }

    /// `comment.reply`: a comment on an existing thread and `comment.added`.
    pub(super) async fn reply(&self, ctx: &Ctx, p: Reply) -> Result<Comment, OpError> {
        const CX: &str = "comment.reply";
        let me = ctx.user()?.id.clone();
        let (doc, grant) = self.thread_access(ctx, p.thread_id.as_str()).await?;
        writable(grant)?;
        let comment = Comment {
            id: uuid::Uuid::now_v7().to_string(),
            thread_id: p.thread_id.as_str().to_string(),
            author_id: me,
            body: p.body.as_str().to_string(),
            created_at: now_ms(),
            edited_at: None,
            deleted_at: None,
        };
        let mut tx = begin_write(self.db.pool()).await.map_err(db_err(CX))?;
        insert_comment(&mut tx, &comment)
            .await
            .map_err(db_err(CX))?;
        let event = json!({ "type": "comment.added", "comment": comment });
        self.commit_with_event(tx, &doc, Some(&comment.id), event, CX)
            .await?;
        Ok(comment)
    }

    /// Comment `id` with its document, if the caller may open that document
    /// and wrote the comment.
    async fn own_comment(&self, ctx: &Ctx, id: &str) -> Result<(Comment, String, Grant), OpError> {
        let (comment, doc) = store::comment_and_doc(self.db.pool(), id)
            .await
            .map_err(db_err("comment lookup"))?
            .ok_or_else(|| no_comment(id))?;
        let grant = self.grant(ctx, &doc, no_comment(id)).await?;
        if comment.author_id != ctx.user()?.id {
            return Err(OpError::Forbidden(
                "only its author may edit or delete a comment".into(),
            ));
        }
        Ok((comment, doc, grant))
    }

    /// `comment.edit`: the author's new text and `comment.edited` (nothing when
    /// the text is the same).
    pub(super) async fn edit(&self, ctx: &Ctx, p: Edit) -> Result<Comment, OpError> {
        const CX: &str = "comment.edit";
        let (comment, doc, grant) = self.own_comment(ctx, p.comment_id.as_str()).await?;
        writable(grant)?;
        if comment.deleted_at.is_some() {
            return Err(OpError::Conflict("this comment was deleted".into()));
        }
        if comment.body == p.body.as_str() {
            return Ok(comment);
        }
        let mut tx = begin_write(self.db.pool()).await.map_err(db_err(CX))?;
        let row = sqlx::query(&format!(
            "UPDATE comments SET body = $1, edited_at = $2 \
             WHERE id = $3 AND deleted_at IS NULL RETURNING {COMMENT_COLUMNS}"
        ))
        .bind(p.body.as_str())
        .bind(now_ms())
        .bind(&comment.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let Some(row) = row else {
            return Err(OpError::Conflict("this comment was deleted".into()));
        };
        let edited = comment_from(&row).map_err(db_err(CX))?;
        let event = json!({ "type": "comment.edited", "comment": edited });
        self.commit_with_event(tx, &doc, Some(&edited.id), event, CX)
            .await?;
        Ok(edited)
    }

    /// `comment.delete`: the author's comment becomes a tombstone (empty body,
    /// `deleted_at`) and `comment.deleted`; deleting it again changes nothing.
    pub(super) async fn delete(&self, ctx: &Ctx, p: CommentRef) -> Result<Comment, OpError> {
        const CX: &str = "comment.delete";
        let id = p.comment_id.as_str();
        let (comment, doc, _) = self.own_comment(ctx, id).await?;
        if comment.deleted_at.is_some() {
            return Ok(comment);
        }
        let mut tx = begin_write(self.db.pool()).await.map_err(db_err(CX))?;
        let row = sqlx::query(&format!(
            "UPDATE comments SET body = '', deleted_at = $1 \
             WHERE id = $2 AND deleted_at IS NULL RETURNING {COMMENT_COLUMNS}"
        ))
        .bind(now_ms())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err(CX))?;
        let Some(row) = row else {
            // Deleted meanwhile by another call: the same outcome.
            drop(tx);
            return store::comment_and_doc(self.db.pool(), id)
                .await
                .map_err(db_err(CX))?
                .map(|(c, _)| c)
                .ok_or_else(|| no_comment(id));
        };
        let deleted = comment_from(&row).map_err(db_err(CX))?;
        // The text goes from the stored events too (history, replays).
        self.topics
            .redact_in(&mut tx, &topic_for(&doc)?, &deleted.id)
            .await
            .map_err(op_error)?;
        let event = json!({
            "type": "comment.deleted",
            "comment_id": deleted.id,
            "thread_id": deleted.thread_id,
            "deleted_at": deleted.deleted_at,
        });
        self.commit_with_event(tx, &doc, None, event, CX).await?;
        Ok(deleted)
    }

    /// `comment.resolve` (`resolve`) and `comment.reopen`: the thread's state
    /// and `thread.resolved` / `thread.reopened`, only when it changes.
    pub(super) async fn set_resolved(
        &self,
        ctx: &Ctx,
        thread_id: &str,
        resolve: bool,
    ) -> Result<Thread, OpError> {
        let cx = if resolve {
            "comment.resolve"
        } else {
            "comment.reopen"
        };
        let me = ctx.user()?.id.clone();
        let (doc, grant) = self.thread_access(ctx, thread_id).await?;
        writable(grant)?;
        let now = now_ms();
        let mut tx = begin_write(self.db.pool()).await.map_err(db_err(cx))?;
        let changed = if resolve {
            sqlx::query(
                "UPDATE comment_threads SET resolved_at = $1, resolved_by = $2 \
                 WHERE id = $3 AND resolved_at IS NULL",
            )
            .bind(now)
            .bind(&me)
            .bind(thread_id)
            .execute(&mut *tx)
            .await
        } else {
            sqlx::query(
                "UPDATE comment_threads SET resolved_at = NULL, resolved_by = NULL \
                 WHERE id = $1 AND resolved_at IS NOT NULL",
            )
            .bind(thread_id)
            .execute(&mut *tx)
            .await
        }
        .map_err(db_err(cx))?
        .rows_affected();
        if changed == 1 {
            let kind = if resolve {
                "thread.resolved"
            } else {
                "thread.reopened"
            };
            let event = json!({ "type": kind, "thread_id": thread_id, "by": me, "at": now });
            self.commit_with_event(tx, &doc, None, event, cx).await?;
        } else {
            drop(tx);
        }
        store::thread(self.db.pool(), thread_id)
            .await
            .map_err(db_err(cx))?
            .ok_or_else(|| no_thread(thread_id))
    }

    /// `comment.list`: the document's threads, with the topic position to
    /// follow them from.
    pub(super) async fn list(&self, ctx: &Ctx, p: ListThreads) -> Result<ThreadList, OpError> {
        const CX: &str = "comment.list";
        let topic = topic_for(&p.doc)?;
        let hidden = OpError::NotFound(format!("no document `{}` you can open", p.doc));
        self.grant(ctx, &p.doc, hidden).await?;
        let (_, last_seq) = self.topics.bounds(&topic).await.map_err(op_error)?;
        let threads =
            store::threads_of(self.db.pool(), &p.doc, p.include_resolved.unwrap_or(false))
                .await
                .map_err(db_err(CX))?;
        Ok(ThreadList {
            doc: p.doc,
            topic,
            last_seq,
            threads,
        })
    }
}

async fn insert_comment(conn: &mut sqlx::AnyConnection, c: &Comment) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO comments (id, thread_id, author_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.id)
    .bind(&c.thread_id)
    .bind(&c.author_id)
    .bind(&c.body)
    .bind(c.created_at)
    .execute(conn)
    .await
    .map(|_| ())
}
