//! `business.storage` (owners and admins): what a business's documents
//! store, per workspace and in total, so owners see their usage. Content is
//! the update log plus the snapshot of every document under
//! `biz/{business}/`; versions are counted apart; deleted documents in the
//! trash count until they are purged.

use std::collections::HashMap;

use super::Workspaces;
use super::params::{BusinessRef, Storage, Usage, WorkspaceUsage};
use super::write::db_err;
use crate::ops::OpError;

/// A `LIKE` pattern matching every string that starts with `prefix`.
fn like_prefix(prefix: &str) -> String {
    let mut p = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Usage {
    fn add(&mut self, content: i64, versions: i64) {
        self.content_bytes = self.content_bytes.saturating_add(content);
        self.version_bytes = self.version_bytes.saturating_add(versions);
        self.total_bytes = self.content_bytes.saturating_add(self.version_bytes);
    }
}

impl Workspaces {
    /// Bytes per document under `pattern` in `sql` (`$1`: the pattern).
    async fn bytes_per_doc(&self, sql: &str, pattern: &str) -> Result<Vec<(String, i64)>, OpError> {
        sqlx::query_as(sql)
            .bind(pattern)
            .fetch_all(self.db().pool())
            .await
            .map_err(db_err("business.storage"))
    }

    /// `business.storage`.
    pub(super) async fn storage(&self, p: BusinessRef) -> Result<Storage, OpError> {
        const CX: &str = "business.storage";
        let business = p.business_id.as_str();
        let pattern = like_prefix(&format!("biz/{business}/"));
        let mut content: HashMap<String, i64> = HashMap::new();
        for table in ["doc_updates", "doc_snapshots"] {
            let sql = format!(
                "SELECT doc, CAST(SUM(LENGTH(data)) AS BIGINT) FROM {table} \
                 WHERE doc LIKE $1 ESCAPE '\\' GROUP BY doc"
            );
            for (doc, bytes) in self.bytes_per_doc(&sql, &pattern).await? {
                *content.entry(doc).or_default() += bytes;
            }
        }
        let versions: HashMap<String, i64> = self
            .bytes_per_doc(
                "SELECT doc, CAST(SUM(size_bytes) AS BIGINT) FROM doc_versions \
                 WHERE doc LIKE $1 ESCAPE '\\' GROUP BY doc",
                &pattern,
            )
            .await?
            .into_iter()
            .collect();
        let spaces: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, name FROM workspaces WHERE business_id = $1 ORDER BY created_at, id",
        )
        .bind(business)
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err(CX))?;
        let docs: HashMap<String, String> = sqlx::query_as::<_, (String, String)>(
            "SELECT name, workspace_id FROM docs WHERE business_id = $1",
        )
        .bind(business)
        .fetch_all(self.db().pool())
        .await
        .map_err(db_err(CX))?
        .into_iter()
        .collect();

        let mut per_space: HashMap<&str, Usage> = HashMap::new();
        let mut other = Usage::default();
        let mut names: Vec<&String> = docs
            .keys()
            .chain(content.keys())
            .chain(versions.keys())
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let usage = match docs.get(name) {
                Some(ws) => per_space.entry(ws.as_str()).or_default(),
                None => &mut other,
            };
            usage.docs += 1;
            usage.add(
                content.get(name).copied().unwrap_or(0),
                versions.get(name).copied().unwrap_or(0),
            );
        }
        let mut total = other.clone();
        let workspaces = spaces
            .into_iter()
            .map(|(id, name)| {
                let usage = per_space.get(id.as_str()).cloned().unwrap_or_default();
                total.docs += usage.docs;
                total.add(usage.content_bytes, usage.version_bytes);
                WorkspaceUsage {
                    workspace_id: id,
                    name,
                    usage,
                }
            })
            .collect();
        Ok(Storage {
            business_id: business.to_string(),
            workspaces,
            other,
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_the_prefix_literally() {
        assert_eq!(like_prefix("biz/b1/"), "biz/b1/%");
        assert_eq!(like_prefix("biz/a_b%/"), "biz/a\\_b\\%/%");
    }
}
