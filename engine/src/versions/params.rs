//! The params and results of the `version.*` operations.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::ops::params::{Id, Text, lenient_u32};

/// Why a version was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionKind {
    /// A member named it.
    Named,
    /// Taken after a burst of editing went quiet.
    Auto,
    /// Taken just before a restore replaced the content.
    BeforeRestore,
}

impl VersionKind {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionKind::Named => "named",
            VersionKind::Auto => "auto",
            VersionKind::BeforeRestore => "before_restore",
        }
    }

    /// From its stored form.
    pub fn parse(s: &str) -> Option<VersionKind> {
        match s {
            "named" => Some(VersionKind::Named),
            "auto" => Some(VersionKind::Auto),
            "before_restore" => Some(VersionKind::BeforeRestore),
            _ => None,
        }
    }
}

/// A version of a document (without its content).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Version {
    /// Its id.
    pub id: String,
    /// The document.
    pub doc: String,
    /// Why it was taken.
    pub kind: VersionKind,
    /// The name a member gave it (automatic versions have a descriptive one
    /// or none).
    pub label: Option<String>,
    /// Who took it (`null` for automatic versions).
    pub author: Option<String>,
    /// When (epoch ms).
    pub created_at: i64,
    /// The last sequence number of the document's log it covers.
    pub seq: u64,
    /// Size of its content (a Yjs v1 update), in bytes.
    pub size_bytes: u64,
}

/// Params of `version.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVersion {
    /// The document (`biz/{business_id}/...` or `user/{user_id}/...`).
    pub doc: String,
    /// Its name, 1 to 200 characters (trimmed).
    pub label: Text<1, 200>,
}

/// Params of `version.list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListVersions {
    /// The document.
    pub doc: String,
    /// Most versions to return (1..=100, default 50).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub limit: Option<u32>,
    /// Only versions older than this one (the previous page's `next_before`).
    #[serde(default)]
    pub before: Option<Id>,
}

/// A page of versions, newest first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VersionList {
    /// The document.
    pub doc: String,
    /// Its versions, newest first.
    pub versions: Vec<Version>,
    /// Pass as `before` for the next page; `null` on the last one.
    pub next_before: Option<String>,
}

/// How a version's content is returned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Every top-level type as JSON, keyed by name.
    #[default]
    Json,
    /// A Yjs v1 update (base64).
    Update,
    /// A Yjs v2 update (base64).
    UpdateV2,
}

impl Format {
    /// As shown in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Update => "update",
            Format::UpdateV2 => "update_v2",
        }
    }
}

/// Params of `version.get`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetVersion {
    /// The document.
    pub doc: String,
    /// The version.
    pub version_id: Id,
    /// `json` (default), `update` or `update_v2`.
    #[serde(default)]
    pub format: Option<Format>,
}

/// A version with its content.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VersionContent {
    /// The version.
    pub version: Version,
    /// The format of `content`.
    pub format: &'static str,
    /// The content: a JSON object of the top-level types (`json`), or a
    /// base64 Yjs update (`update`, `update_v2`).
    pub content: Value,
}

/// A version id, or `current` for the document as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionRef {
    /// The live document.
    Current,
    /// A stored version.
    Id(String),
}

impl VersionRef {
    fn parse(s: &str) -> Result<VersionRef, String> {
        if s == "current" {
            return Ok(VersionRef::Current);
        }
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if ok {
            Ok(VersionRef::Id(s.to_string()))
        } else {
            Err("must be a version id or `current`".into())
        }
    }
}

impl fmt::Display for VersionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionRef::Current => f.write_str("current"),
            VersionRef::Id(id) => f.write_str(id),
        }
    }
}

impl<'de> Deserialize<'de> for VersionRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        VersionRef::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for VersionRef {
    fn schema_name() -> Cow<'static, str> {
        "VersionRef".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string", "minLength": 1, "maxLength": 64,
            "pattern": "^([A-Za-z0-9_-]+|current)$",
            "description": "a version id, or `current` for the document as it is now"
        })
    }
}

/// Params of `version.diff`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiffVersions {
    /// The document.
    pub doc: String,
    /// The older side: a version id or `current`.
    pub from: VersionRef,
    /// The newer side: a version id or `current` (default).
    #[serde(default)]
    pub to: Option<VersionRef>,
}

/// One side of a diff.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiffSide {
    /// The version, or `null` for the document as it was read now.
    pub version_id: Option<String>,
    /// The last log sequence number it covers.
    pub seq: u64,
}

/// Who edited one top-level type between the two sides.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct RootEditors {
    /// The top-level type.
    pub root: String,
    /// User ids of those who edited it between the two sides' sequence
    /// numbers, sorted.
    pub editors: Vec<String>,
}

/// What changed between two versions, and who changed it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VersionDiff {
    /// The document.
    pub doc: String,
    /// The older side.
    pub from: DiffSide,
    /// The newer side.
    pub to: DiffSide,
    /// The differences, ordered by root and path: each `{root, path, change,
    /// ...}` with `change` one of `added` (`value`), `removed` (`value`),
    /// `changed` (`from`, `to`) and `range` (`start`, `removed`, `inserted`,
    /// `before`, `after`); see docs/versions.md.
    pub changes: Vec<Value>,
    /// For each top-level type with a change: who edited it in between.
    pub roots: Vec<RootEditors>,
    /// Everyone who edited the document in between, sorted.
    pub authors: Vec<String>,
}

/// Params of `version.restore`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreVersion {
    /// The document.
    pub doc: String,
    /// The version whose content the document gets back.
    pub version_id: Id,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Restored {
    /// The document.
    pub doc: String,
    /// The version restored.
    pub version_id: String,
    /// Whether anything changed (`false`: the content already equals the
    /// version's).
    pub restored: bool,
    /// The document's sequence number after the restore (its current one when
    /// nothing changed).
    pub seq: u64,
    /// The automatic version of the content just before the restore (`null`
    /// when nothing changed).
    pub before_restore_version_id: Option<String>,
    /// What happened, in words.
    pub message: String,
}
