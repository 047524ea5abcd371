//! Versions and edit attribution in SQL (`doc_versions`, `doc_activity`), and
//! the `docs` row's "last edited" columns.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::params::{Version, VersionKind};

/// The columns [`version_from`] reads, in order.
const VERSION_COLUMNS: &str = "id, doc, kind, label, author, created_at, seq, size_bytes";

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn version_from(row: &AnyRow) -> Result<Version, sqlx::Error> {
    let kind: String = row.try_get(2)?;
    Ok(Version {
        id: row.try_get(0)?,
        doc: row.try_get(1)?,
        kind: VersionKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown version kind `{kind}`").into()))?,
        label: row.try_get(3)?,
        author: row.try_get(4)?,
        created_at: row.try_get(5)?,
        seq: to_u64(row.try_get(6)?),
        size_bytes: to_u64(row.try_get(7)?),
    })
}

/// Stores `v` with its content.
pub(super) async fn insert_version(
    conn: &mut AnyConnection,
    v: &Version,
    data: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO doc_versions (id, doc, seq, kind, label, author, created_at, size_bytes, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&v.id)
    .bind(&v.doc)
    .bind(to_i64(v.seq))
    .bind(v.kind.as_str())
    .bind(v.label.as_deref())
    .bind(v.author.as_deref())
    .bind(v.created_at)
    .bind(to_i64(v.size_bytes))
    .bind(data)
    .execute(conn)
    .await?;
    Ok(())
}

/// Version `id` of `doc` with its content, if it exists.
pub(super) async fn get_version(
    pool: &AnyPool,
    doc: &str,
    id: &str,
) -> Result<Option<(Version, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS}, data FROM doc_versions WHERE id = $1 AND doc = $2"
    ))
    .bind(id)
    .bind(doc)
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) => Ok(Some((version_from(&row)?, row.try_get(8)?))),
        None => Ok(None),
    }
}

/// Up to `limit` versions of `doc`, newest first, older than `before` if given.
/// UUIDv7 ids sort by creation time.
pub(super) async fn list_versions(
    pool: &AnyPool,
    doc: &str,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<Version>, sqlx::Error> {
    let rows = match before {
        Some(before) => {
            sqlx::query(&format!(
                "SELECT {VERSION_COLUMNS} FROM doc_versions WHERE doc = $1 AND id < $2 \
                 ORDER BY id DESC LIMIT $3"
            ))
            .bind(doc)
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "SELECT {VERSION_COLUMNS} FROM doc_versions WHERE doc = $1 \
                 ORDER BY id DESC LIMIT $2"
            ))
            .bind(doc)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter().map(version_from).collect()
}

/// One aggregated `doc_activity` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ActivityRow {
    pub user_id: String,
    pub root: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub edits: u64,
    pub last_at: i64,
}

/// Appends activity rows for `doc`.
pub(super) async fn insert_activity(
    conn: &mut AnyConnection,
    doc: &str,
    rows: &[ActivityRow],
) -> Result<(), sqlx::Error> {
    for r in rows {
        sqlx::query(
            "INSERT INTO doc_activity (doc, user_id, root, first_seq, last_seq, edits, last_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(doc)
        .bind(&r.user_id)
        .bind(&r.root)
        .bind(to_i64(r.first_seq))
        .bind(to_i64(r.last_seq))
        .bind(to_i64(r.edits))
        .bind(r.last_at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// (user, root) pairs with edits of `doc` in the sequence range `(lo, hi]`.
pub(super) async fn editors_between(
    pool: &AnyPool,
    doc: &str,
    lo: u64,
    hi: u64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT DISTINCT user_id, root FROM doc_activity \
         WHERE doc = $1 AND last_seq > $2 AND first_seq <= $3",
    )
    .bind(doc)
    .bind(to_i64(lo))
    .bind(to_i64(hi))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Sets the `docs` row's last edit and size (workspace documents have one;
/// for others nothing matches). An edit without a user keeps the last editor.
pub(super) async fn touch_doc(
    conn: &mut AnyConnection,
    doc: &str,
    at: i64,
    by: Option<&str>,
    size_bytes: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE docs SET last_edited_at = $1, last_edited_by = COALESCE($2, last_edited_by), \
         size_bytes = $3 WHERE name = $4",
    )
    .bind(at)
    .bind(by)
    .bind(to_i64(size_bytes))
    .bind(doc)
    .execute(conn)
    .await?;
    Ok(())
}

/// The `docs` row of `doc` as events describe it: (id, workspace id, title).
pub(super) async fn doc_row(
    conn: &mut AnyConnection,
    doc: &str,
) -> Result<Option<(String, String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT id, workspace_id, title FROM docs WHERE name = $1")
        .bind(doc)
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => Ok(Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))),
        None => Ok(None),
    }
}
