//! The reading operations: list a document's versions, read one, and diff
//! two (or one and the current document) with who edited what in between.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use yrs::{Doc, ReadTxn, StateVector, Transact};

use super::params::{
    DiffSide, DiffVersions, Format, GetVersion, ListVersions, RootEditors, Version, VersionContent,
    VersionDiff, VersionList, VersionRef,
};
use super::{Versions, db_err, engine_error, store};
use crate::doc_tree;
use crate::ops::{Ctx, OpError};

/// Default and largest page of `version.list`.
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

fn no_version(doc: &str, id: &str) -> OpError {
    OpError::NotFound(format!("no version `{id}` of document `{doc}`"))
}

/// A stored version's content as a document (a version that does not decode
/// is a server fault: it was encoded from a live document).
fn decode(version: &Version, data: &[u8]) -> Result<Doc, OpError> {
    doc_tree::doc_from_v1(data).map_err(|e| {
        OpError::Internal(format!(
            "version `{}` of `{}` does not decode: {e}",
            version.id, version.doc
        ))
    })
}

impl Versions {
    /// Version `id` of `doc` with its content, or `not_found`.
    pub(super) async fn load_version(
        &self,
        doc: &str,
        id: &str,
    ) -> Result<(Version, Vec<u8>), OpError> {
        store::get_version(self.inner.db.pool(), doc, id)
            .await
            .map_err(db_err("version lookup"))?
            .ok_or_else(|| no_version(doc, id))
    }

    /// `version.list`.
    pub(super) async fn list(&self, ctx: &Ctx, p: ListVersions) -> Result<VersionList, OpError> {
        self.grant(ctx, &p.doc).await?;
        let limit = p.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(OpError::invalid(
                "limit",
                format!("must be 1 to {MAX_PAGE}, got {limit}"),
            ));
        }
        let before = p.before.as_ref().map(|b| b.as_str());
        // One more than asked tells whether another page follows.
        let mut versions = store::list_versions(self.inner.db.pool(), &p.doc, before, limit + 1)
            .await
            .map_err(db_err("version.list"))?;
        let more = versions.len() > limit as usize;
        versions.truncate(limit as usize);
        let next_before = more
            .then(|| versions.last().map(|v| v.id.clone()))
            .flatten();
        Ok(VersionList {
            doc: p.doc,
            versions,
            next_before,
        })
    }

    /// `version.get`.
    pub(super) async fn get(&self, ctx: &Ctx, p: GetVersion) -> Result<VersionContent, OpError> {
        self.grant(ctx, &p.doc).await?;
        let (version, data) = self.load_version(&p.doc, p.version_id.as_str()).await?;
        let format = p.format.unwrap_or_default();
        let content = match format {
            Format::Update => Value::String(STANDARD.encode(&data)),
            Format::Json => doc_tree::to_json(&decode(&version, &data)?),
            Format::UpdateV2 => {
                let d = decode(&version, &data)?;
                let v2 = d
                    .transact()
                    .encode_state_as_update_v2(&StateVector::default());
                Value::String(STANDARD.encode(v2))
            }
        };
        Ok(VersionContent {
            version,
            format: format.as_str(),
            content,
        })
    }

    /// One side of a diff: its description and its content.
    async fn side(&self, doc: &str, r: &VersionRef) -> Result<(DiffSide, Doc), OpError> {
        match r {
            VersionRef::Current => {
                let (data, seq) = self
                    .read_state(doc)
                    .await
                    .map_err(|e| engine_error(e, doc))?;
                let d = doc_tree::doc_from_v1(&data).map_err(|e| {
                    OpError::Internal(format!("the state of `{doc}` does not decode: {e}"))
                })?;
                Ok((
                    DiffSide {
                        version_id: None,
                        seq,
                    },
                    d,
                ))
            }
            VersionRef::Id(id) => {
                let (version, data) = self.load_version(doc, id).await?;
                let d = decode(&version, &data)?;
                Ok((
                    DiffSide {
                        version_id: Some(version.id),
                        seq: version.seq,
                    },
                    d,
                ))
            }
        }
    }

    /// `version.diff`.
    pub(super) async fn diff(&self, ctx: &Ctx, p: DiffVersions) -> Result<VersionDiff, OpError> {
        self.grant(ctx, &p.doc).await?;
        let to_ref = p.to.unwrap_or(VersionRef::Current);
        let (from, old) = self.side(&p.doc, &p.from).await?;
        let (to, new) = self.side(&p.doc, &to_ref).await?;
        let changes = doc_tree::diff(&old, &new);
        let changed_roots: BTreeSet<&str> = changes.iter().map(|c| c.root.as_str()).collect();
        let (lo, hi) = (from.seq.min(to.seq), from.seq.max(to.seq));
        let mut spans = store::editors_between(self.inner.db.pool(), &p.doc, lo, hi)
            .await
            .map_err(db_err("version.diff"))?;
        // Edits of the last second are not written yet: count them too.
        spans.extend(self.inner.tracker.unflushed_editors(&p.doc, lo, hi));
        let mut by_root: BTreeMap<&str, BTreeSet<&str>> = changed_roots
            .iter()
            .map(|r| (*r, BTreeSet::new()))
            .collect();
        let mut authors = BTreeSet::new();
        for (user, root) in &spans {
            if user.is_empty() {
                continue;
            }
            authors.insert(user.clone());
            if let Some(editors) = by_root.get_mut(root.as_str()) {
                editors.insert(user.as_str());
            }
        }
        let roots = by_root
            .into_iter()
            .map(|(root, editors)| RootEditors {
                root: root.to_string(),
                editors: editors.into_iter().map(str::to_string).collect(),
            })
            .collect();
        let changes = changes
            .iter()
            .map(|c| {
                serde_json::to_value(c)
                    .map_err(|e| OpError::Internal(format!("a change does not serialize: {e}")))
            })
            .collect::<Result<Vec<Value>, OpError>>()?;
        Ok(VersionDiff {
            doc: p.doc,
            from,
            to,
            changes,
            roots,
            authors: authors.into_iter().collect(),
        })
    }
}
