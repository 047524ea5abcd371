//! Reading a document as a tree of values: its top-level types as JSON, what
//! changed between two states of it ([`diff`]), and the update that turns one
//! state's content into another's ([`restore_update`]: a restore that is a new
//! change on top, so every open editor converges instead of being reset).
//!
//! A document loaded from stored updates does not know the types of its roots
//! (Yjs only records them in the client that defined them), so each root's kind
//! is inferred from its content: characters make a text, XML nodes an XML
//! fragment, other items an array, keys a map. An empty root is [`Kind::Empty`].

mod diff;
mod restore;
mod units;

use serde::Serialize;
use serde_json::Value;
use yrs::types::{AsPrelim, ToJson, TypeRef};
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, ArrayRef, BranchID, Doc, GetString, In, Map, MapRef, Out, ReadTxn, Text, TextRef,
    Transact, Update, XmlFragment, XmlFragmentRef, branch::BranchPtr,
};

pub use diff::diff;
pub use restore::restore_update;

/// One difference between two states of a document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The top-level type it is in.
    pub root: String,
    /// Where inside it, as a JSON pointer (`""` for the whole type,
    /// `/sku-1/price` for a nested map key).
    pub path: String,
    /// What happened there.
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// The kind of a [`Change`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    /// Present only in the newer state.
    Added {
        /// Its value there.
        value: Value,
    },
    /// Present only in the older state.
    Removed {
        /// Its value there.
        value: Value,
    },
    /// A value replaced by another (or a text whose formatting changed).
    Changed {
        /// Before.
        from: Value,
        /// After.
        to: Value,
    },
    /// A range of a text, an array or an XML fragment replaced: `removed`
    /// items from `start` in the older state became `inserted` items in the
    /// newer one (characters for text, items for arrays, child nodes for XML).
    Range {
        /// First index that differs.
        start: u64,
        /// Items (or characters) removed from the older state.
        removed: u64,
        /// Items (or characters) inserted in the newer one.
        inserted: u64,
        /// The removed content (text, or a JSON array of items).
        before: Value,
        /// The inserted content.
        after: Value,
    },
}

/// What a root (or nested value) holds, as far as comparing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Empty,
    Text,
    Array,
    Map,
    Xml,
}

/// The kind of a shared type, inferred from its content when undefined.
pub(crate) fn kind_of<T: ReadTxn>(txn: &T, b: BranchPtr) -> Kind {
    let kind = match b.type_ref() {
        TypeRef::Text | TypeRef::XmlText => Kind::Text,
        TypeRef::Array => Kind::Array,
        TypeRef::Map => Kind::Map,
        TypeRef::XmlFragment | TypeRef::XmlElement(_) => Kind::Xml,
        _ => match Out::UndefinedRef(b).as_prelim(txn) {
            In::Text(_) | In::XmlText(_) => Kind::Text,
            In::XmlElement(_) | In::XmlFragment(_) => Kind::Xml,
            In::Map(_) => Kind::Map,
            In::Array(_) => match ArrayRef::from(b).get(txn, 0) {
                Some(Out::YXmlElement(_) | Out::YXmlText(_)) => Kind::Xml,
                _ => Kind::Array,
            },
            _ => Kind::Empty,
        },
    };
    let empty = match kind {
        Kind::Text => TextRef::from(b).len(txn) == 0,
        Kind::Array => ArrayRef::from(b).len(txn) == 0,
        Kind::Map => MapRef::from(b).len(txn) == 0,
        Kind::Xml => XmlFragmentRef::from(b).len(txn) == 0,
        Kind::Empty => true,
    };
    if empty { Kind::Empty } else { kind }
}

/// The names of `doc`'s roots, sorted.
pub(crate) fn root_names<T: ReadTxn>(txn: &T) -> Vec<String> {
    let mut names: Vec<String> = txn.root_refs().map(|(n, _)| n.to_string()).collect();
    names.sort_unstable();
    names
}

/// The root named `name`, if the document has one.
pub(crate) fn root<T: ReadTxn>(txn: &T, name: &str) -> Option<BranchPtr> {
    BranchID::get_root(txn, name)
}

/// A shared type's content as JSON, by its kind.
pub(crate) fn branch_json<T: ReadTxn>(txn: &T, b: BranchPtr, kind: Kind) -> Value {
    match kind {
        Kind::Empty => Value::Null,
        Kind::Text => Value::String(TextRef::from(b).get_string(txn)),
        Kind::Array => any_json(&ArrayRef::from(b).to_json(txn)),
        Kind::Map => any_json(&MapRef::from(b).to_json(txn)),
        Kind::Xml => Value::String(XmlFragmentRef::from(b).get_string(txn)),
    }
}

/// A nested value as JSON.
pub(crate) fn out_json<T: ReadTxn>(txn: &T, out: &Out) -> Value {
    any_json(&out.to_json(txn))
}

/// A Yrs value as JSON (binary as base64 text, as Yjs' own JSON does not
/// carry it; numbers that JSON cannot hold as null).
pub(crate) fn any_json(any: &Any) -> Value {
    serde_json::to_value(any).unwrap_or(Value::Null)
}

/// Every top-level type of `doc` as JSON, keyed by name; empty roots are left
/// out.
pub fn to_json(doc: &Doc) -> Value {
    let txn = doc.transact();
    let mut out = serde_json::Map::new();
    for name in root_names(&txn) {
        if let Some(b) = root(&txn, &name) {
            let kind = kind_of(&txn, b);
            if kind != Kind::Empty {
                out.insert(name, branch_json(&txn, b, kind));
            }
        }
    }
    Value::Object(out)
}

/// A document built from a Yjs v1 update (a stored version or snapshot).
/// Yrs is guarded against panics on bad input.
pub fn doc_from_v1(update: &[u8]) -> Result<Doc, String> {
    let doc = Doc::new();
    let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let u = Update::decode_v1(update).map_err(|e| e.to_string())?;
        doc.transact_mut()
            .apply_update(u)
            .map_err(|e| e.to_string())
    }));
    match applied {
        Ok(Ok(())) => Ok(doc),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the update could not be decoded".into()),
    }
}

#[cfg(test)]
mod tests;
