//! The params and results of the `comment.*` operations, and the two strings
//! that validate themselves while they are read: a comment [`Body`] and a
//! thread [`Anchor`], both kept exactly as given (never trimmed, never
//! interpreted).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize};

use super::{MAX_ANCHOR_CHARS, MAX_BODY_CHARS};
use crate::ops::params::Id;

/// Control characters other than line breaks and tabs (Postgres refuses NUL;
/// the others have no place in a comment).
fn bad_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// A comment's text: 1 to 4000 characters, not only whitespace, no control
/// characters but line breaks and tabs. Plain text, kept exactly as given.
#[derive(Clone, PartialEq, Eq)]
pub struct Body(String);

impl Body {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `s`.
    pub fn parse(s: String) -> Result<Body, String> {
        let n = s.chars().count();
        if n == 0 || n > MAX_BODY_CHARS {
            return Err(format!("must be 1 to {MAX_BODY_CHARS} characters, got {n}"));
        }
        if s.trim().is_empty() {
            return Err("must not be only whitespace".into());
        }
        if s.chars().any(bad_control) {
            return Err(
                "must not contain control characters (line breaks and tabs are fine)".into(),
            );
        }
        Ok(Body(s))
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Body::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Body {
    fn schema_name() -> Cow<'static, str> {
        "CommentBody".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1, "maxLength": MAX_BODY_CHARS })
    }
}

/// Where a thread is attached in its document: an opaque client string (e.g. a
/// base64-encoded Yjs relative position) of 1 to 1024 characters with no
/// control characters, kept and returned exactly as given.
#[derive(Clone, PartialEq, Eq)]
pub struct Anchor(String);

impl Anchor {
    /// The anchor.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks `s`.
    pub fn parse(s: String) -> Result<Anchor, String> {
        let n = s.chars().count();
        if n == 0 || n > MAX_ANCHOR_CHARS {
            return Err(format!(
                "must be 1 to {MAX_ANCHOR_CHARS} characters, got {n} (omit it for a thread on the whole document)"
            ));
        }
        if s.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Anchor(s))
    }
}

impl fmt::Debug for Anchor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl<'de> Deserialize<'de> for Anchor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Anchor::parse(String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Anchor {
    fn schema_name() -> Cow<'static, str> {
        "CommentAnchor".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1, "maxLength": MAX_ANCHOR_CHARS })
    }
}

/// Reads a flag given as a JSON boolean or as `true`/`false` text (query
/// strings carry only strings). Use with `#[serde(default, deserialize_with)]`.
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

/// Params of `comment.thread.create`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateThread {
    /// The document (`biz/{business_id}/...` or `user/{user_id}/...`).
    pub doc: String,
    /// Where in the document the thread is attached (opaque to the server);
    /// omitted for a thread on the whole document.
    #[serde(default)]
    pub anchor: Option<Anchor>,
    /// The first comment.
    pub body: Body,
}

/// Params of `comment.reply`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// The thread.
    pub thread_id: Id,
    /// The comment.
    pub body: Body,
}

/// Params of `comment.edit`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// The comment (the caller's own).
    pub comment_id: Id,
    /// Its new text.
    pub body: Body,
}

/// Params naming a comment.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentRef {
    /// The comment.
    pub comment_id: Id,
}

/// Params naming a thread.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadRef {
    /// The thread.
    pub thread_id: Id,
}

/// Params of `comment.list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListThreads {
    /// The document.
    pub doc: String,
    /// Also list resolved threads (default false).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub include_resolved: Option<bool>,
}

/// One comment. A deleted comment keeps its place with an empty body.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Comment {
    /// Its id.
    pub id: String,
    /// Its thread.
    pub thread_id: String,
    /// Who wrote it.
    pub author_id: String,
    /// Its text, exactly as written (plain text: render it as text); empty
    /// once deleted.
    pub body: String,
    /// When it was written (epoch ms).
    pub created_at: i64,
    /// When it was last edited, if it was.
    pub edited_at: Option<i64>,
    /// When it was deleted, if it was.
    pub deleted_at: Option<i64>,
}

/// A comment thread with its comments in the order they were written.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Thread {
    /// Its id.
    pub id: String,
    /// Its document.
    pub doc: String,
    /// Where it is attached, exactly as the client gave it (`null`: the whole
    /// document).
    pub anchor: Option<String>,
    /// Who started it.
    pub created_by: String,
    /// When (epoch ms).
    pub created_at: i64,
    /// When it was resolved, while it is.
    pub resolved_at: Option<i64>,
    /// Who resolved it, while it is.
    pub resolved_by: Option<String>,
    /// Its comments, oldest first.
    pub comments: Vec<Comment>,
}

/// The threads of a document.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ThreadList {
    /// The document.
    pub doc: String,
    /// Its comments topic (subscribe to follow changes live).
    pub topic: String,
    /// The topic's newest sequence number, read before the threads: subscribe
    /// with `since` = this to miss nothing. Events just after it may already
    /// be reflected here; every event sets state by id, so applying one again
    /// is harmless.
    pub last_seq: u64,
    /// Its threads, oldest first (resolved ones only when asked for).
    pub threads: Vec<Thread>,
}
