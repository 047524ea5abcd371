//! The REST door to every document, as operations (so the socket, REST and
//! OpenAPI serve them alike): read a document as a Yjs update (v1 or v2) or
//! as JSON of its top-level types, read its state vector, and apply an update
//! with the checks and the durability of a socket write (see [`crate::door`]).
//!
//! | operation | route |
//! | --- | --- |
//! | `doc.get` | `GET /docs/{doc}?format=update\|update_v2\|json&state_vector=` |
//! | `doc.state_vector` | `GET /docs/{doc}/state-vector` |
//! | `doc.apply` | `POST /docs/{doc}/updates` |
//!
//! Binary values travel as standard base64 text. A document the caller may not
//! open answers `not_found`, as if it did not exist.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ReadTxn, StateVector, Transact};

use crate::access::Principal;
use crate::doc_tree;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ops::{Ctx, HttpMethod, OpError, OpSpec, OpsBuilder, Permission};

/// How `doc.get` returns the document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocFormat {
    /// A Yjs v1 update (base64), as `Y.encodeStateAsUpdate`.
    #[default]
    Update,
    /// A Yjs v2 update (base64), as `Y.encodeStateAsUpdateV2`.
    UpdateV2,
    /// Each top-level type as JSON, keyed by name.
    Json,
}

/// `doc.get` params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDoc {
    /// The document name.
    pub doc: String,
    /// `update` (default), `update_v2` or `json`.
    #[serde(default)]
    pub format: DocFormat,
    /// For the update formats: a state vector (base64); only what it lacks is
    /// returned.
    #[serde(default)]
    pub state_vector: Option<String>,
}

/// `doc.state_vector` params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DocRef {
    /// The document name.
    pub doc: String,
}

/// `doc.apply` params.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyUpdate {
    /// The document name.
    pub doc: String,
    /// The update, base64: Yjs v1 (`Y.encodeStateAsUpdate`, the `update`
    /// event). Values nested deeper than 256 levels are refused.
    pub update: String,
}

/// What `doc.get` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocContent {
    /// The document name.
    pub doc: String,
    /// The sequence number of the last change included.
    pub seq: u64,
    /// The format of `update` or `json`.
    pub format: DocFormat,
    /// The update (base64), for the update formats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<String>,
    /// The top-level types, for `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
}

/// What `doc.state_vector` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocStateVector {
    /// The document name.
    pub doc: String,
    /// The sequence number of the last change included.
    pub seq: u64,
    /// The Yjs state vector (v1 encoding, base64).
    pub state_vector: String,
}

/// What `doc.apply` answers.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Applied {
    /// The document name.
    pub doc: String,
    /// The document's sequence number once the update is durable.
    pub seq: u64,
}

fn principal(ctx: &Ctx) -> Result<Principal, OpError> {
    Ok(Principal {
        session_id: String::new(),
        user: Some(ctx.user()?.clone()),
    })
}

/// The operation error for an engine error on `doc`.
pub(crate) fn door_error(e: EngineError, doc: &str) -> OpError {
    match e {
        EngineError::Forbidden(_) => OpError::NotFound(format!("no document `{doc}`")),
        EngineError::Unauthorized(m) => OpError::Unauthorized(m),
        EngineError::ReadOnly(_) => OpError::Forbidden(format!(
            "you may read `{doc}` but not change it (read-only access)"
        )),
        EngineError::InvalidDocName(m) => OpError::invalid("doc", m),
        EngineError::InvalidUpdate(m) => OpError::invalid("update", m),
        e @ (EngineError::DocTooLarge { .. } | EngineError::FrameTooLarge { .. }) => {
            OpError::TooLarge(e.to_string())
        }
        e @ (EngineError::AccessUnavailable(_)
        | EngineError::LoadFailed(_)
        | EngineError::ShuttingDown
        | EngineError::Unavailable(_)
        | EngineError::TooManyConnections(_)) => OpError::Unavailable(e.to_string()),
        e => OpError::Internal(e.to_string()),
    }
}

fn base64(field: &str, text: &str) -> Result<Vec<u8>, OpError> {
    STANDARD
        .decode(text.trim())
        .map_err(|e| OpError::invalid(field, format!("must be standard base64: {e}")))
}

async fn get(engine: &Engine, ctx: &Ctx, p: GetDoc) -> Result<DocContent, OpError> {
    let who = principal(ctx)?;
    let sv = match &p.state_vector {
        Some(text) => {
            let bytes = base64("state_vector", text)?;
            crate::update_guard::check_state_vector(&bytes)
                .map_err(|e| OpError::invalid("state_vector", e.to_string()))?;
            Some(StateVector::decode_v1(&bytes).map_err(|e| {
                OpError::invalid("state_vector", format!("not a Yjs state vector: {e}"))
            })?)
        }
        None => None,
    };
    let format = p.format;
    let (seq, update, json) = engine
        .read_as(&who, &p.doc, |doc, seq| {
            let txn = doc.transact();
            let sv = sv.unwrap_or_default();
            match format {
                DocFormat::Update => (seq, Some(txn.encode_diff_v1(&sv)), None),
                DocFormat::UpdateV2 => (seq, Some(txn.encode_diff_v2(&sv)), None),
                DocFormat::Json => {
                    drop(txn);
                    (seq, None, Some(doc_tree::to_json(doc)))
                }
            }
        })
        .await
        .map_err(|e| door_error(e, &p.doc))?;
    Ok(DocContent {
        doc: p.doc,
        seq,
        format,
        update: update.map(|u| STANDARD.encode(u)),
        json,
    })
}

async fn state_vector(engine: &Engine, ctx: &Ctx, p: DocRef) -> Result<DocStateVector, OpError> {
    let who = principal(ctx)?;
    let (seq, sv) = engine
        .read_as(&who, &p.doc, |doc, seq| {
            (seq, doc.transact().state_vector().encode_v1())
        })
        .await
        .map_err(|e| door_error(e, &p.doc))?;
    Ok(DocStateVector {
        doc: p.doc,
        seq,
        state_vector: STANDARD.encode(sv),
    })
}

async fn apply(engine: &Engine, ctx: &Ctx, p: ApplyUpdate) -> Result<Applied, OpError> {
    let who = principal(ctx)?;
    let update = base64("update", &p.update)?;
    let seq = engine
        .apply_as(&who, &p.doc, &update)
        .await
        .map_err(|e| door_error(e, &p.doc))?;
    Ok(Applied { doc: p.doc, seq })
}

/// Registers `doc.get`, `doc.state_vector` and `doc.apply`.
pub fn register_door_ops(engine: &Engine, ops: &mut OpsBuilder) {
    let e = engine.clone();
    ops.register(
        OpSpec::read(
            "doc.get",
            "A document as a Yjs update (v1 or v2, optionally only what a state vector lacks) or as JSON of its top-level types",
            Permission::User,
        )
        .at(HttpMethod::Get, "/docs/{doc}"),
        move |ctx, p: GetDoc| {
            let e = e.clone();
            async move { get(&e, &ctx, p).await }
        },
    );
    let e = engine.clone();
    ops.register(
        OpSpec::read(
            "doc.state_vector",
            "A document's Yjs state vector",
            Permission::User,
        )
        .at(HttpMethod::Get, "/docs/{doc}/state-vector"),
        move |ctx, p: DocRef| {
            let e = e.clone();
            async move { state_vector(&e, &ctx, p).await }
        },
    );
    let e = engine.clone();
    ops.register(
        OpSpec::write(
            "doc.apply",
            "Apply a Yjs update to a document, with the access checks, validation and durability of a socket write (answers once it is durable)",
            Permission::User,
            true,
        )
        .at(HttpMethod::Post, "/docs/{doc}/updates"),
        move |ctx, p: ApplyUpdate| {
            let e = e.clone();
            async move { apply(&e, &ctx, p).await }
        },
    );
}
