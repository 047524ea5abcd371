//! Threads and comments in SQL (`comment_threads`, `comments`): the reads, and
//! the row decoding the changes share.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use super::params::{Comment, Thread};

/// The columns [`comment_from`] reads, in order.
pub(super) const COMMENT_COLUMNS: &str =
    "id, thread_id, author_id, body, created_at, edited_at, deleted_at";

/// Most thread ids bound in one query.
const IDS_PER_QUERY: usize = 200;

/// The columns [`thread_from`] reads, in order.
const THREAD_COLUMNS: &str = "id, doc, anchor, created_by, created_at, resolved_at, resolved_by";

pub(super) fn comment_from(row: &AnyRow) -> Result<Comment, sqlx::Error> {
    Ok(Comment {
        id: row.try_get(0)?,
        thread_id: row.try_get(1)?,
        author_id: row.try_get(2)?,
        body: row.try_get(3)?,
        created_at: row.try_get(4)?,
        edited_at: row.try_get(5)?,
        deleted_at: row.try_get(6)?,
    })
}

fn thread_from(row: &AnyRow) -> Result<Thread, sqlx::Error> {
    Ok(Thread {
        id: row.try_get(0)?,
        doc: row.try_get(1)?,
        anchor: row.try_get(2)?,
        created_by: row.try_get(3)?,
        created_at: row.try_get(4)?,
        resolved_at: row.try_get(5)?,
        resolved_by: row.try_get(6)?,
        comments: Vec::new(),
    })
}

/// The document of thread `id`, if the thread exists.
pub(super) async fn doc_of_thread(pool: &AnyPool, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT doc FROM comment_threads WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Comment `id` and the document of its thread, if it exists.
pub(super) async fn comment_and_doc(
    pool: &AnyPool,
    id: &str,
) -> Result<Option<(Comment, String)>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT c.id, c.thread_id, c.author_id, c.body, c.created_at, c.edited_at, c.deleted_at, t.doc \
         FROM comments c JOIN comment_threads t ON t.id = c.thread_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| Ok((comment_from(&r)?, r.try_get(7)?)))
        .transpose()
}

/// Thread `id` with its comments, oldest first.
pub(super) async fn thread(pool: &AnyPool, id: &str) -> Result<Option<Thread>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {THREAD_COLUMNS} FROM comment_threads WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut thread = thread_from(&row)?;
    thread.comments = sqlx::query(&format!(
        "SELECT {COMMENT_COLUMNS} FROM comments WHERE thread_id = $1 ORDER BY created_at, id"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(comment_from)
    .collect::<Result<_, _>>()?;
    Ok(Some(thread))
}

/// The threads of `doc` with their comments, oldest first; resolved ones only
/// with `include_resolved`. One query for the threads, one per 200 of them for
/// their comments.
pub(super) async fn threads_of(
    pool: &AnyPool,
    doc: &str,
    include_resolved: bool,
) -> Result<Vec<Thread>, sqlx::Error> {
    let open_only = if include_resolved {
        ""
    } else {
        " AND resolved_at IS NULL"
    };
    let mut threads: Vec<Thread> = sqlx::query(&format!(
        "SELECT {THREAD_COLUMNS} FROM comment_threads WHERE doc = $1{open_only} \
         ORDER BY created_at, id"
    ))
    .bind(doc)
    .fetch_all(pool)
    .await?
    .iter()
    .map(thread_from)
    .collect::<Result<_, _>>()?;
    if threads.is_empty() {
        return Ok(threads);
    }
    let at: HashMap<String, usize> = threads
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    // The comments of exactly the threads read (one may have been resolved
    // since), a bounded number of ids per query.
    let ids: Vec<&str> = threads.iter().map(|t| t.id.as_str()).collect();
    let mut comments = Vec::new();
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let sql = format!(
            "SELECT {COMMENT_COLUMNS} FROM comments WHERE thread_id IN ({}) \
             ORDER BY created_at, id",
            crate::sql_store::placeholders(chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(pool).await? {
            comments.push(comment_from(&row)?);
        }
    }
    for c in comments {
        if let Some(&i) = at.get(&c.thread_id) {
            threads[i].comments.push(c);
        }
    }
    Ok(threads)
}
