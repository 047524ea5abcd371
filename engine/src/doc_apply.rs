//! Applying updates to a Yrs document safely, and encoding it for a snapshot.
//!
//! Everything here guards Yrs against hostile input (`catch_unwind`: a panic is a
//! refused update, never a crashed server) and knows about *parked* updates:
//! updates whose predecessors have not arrived are stashed by Yrs rather than
//! integrated, and they must neither be counted twice nor be lost by compaction.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use yrs::types::AsPrelim;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{BranchID, Doc, In, Out, ReadTxn, StateVector, Transact, Update};

use crate::error::EngineError;

/// What Yrs has parked (updates and deletions waiting for missing predecessors),
/// encoded for comparison; `None` when nothing is parked (the common case, free).
pub(crate) fn parked_state<T: ReadTxn>(txn: &T) -> Option<(Vec<u8>, Option<yrs::IdSet>)> {
    if !txn.has_missing_updates() {
        return None;
    }
    let store = txn.store();
    let update = store
        .pending_update()
        .map(|p| p.update.encode_v1())
        .unwrap_or_default();
    Some((update, store.pending_ds().cloned()))
}

/// What applying an update did.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// Whether it changed the document (including updates parked until their
    /// predecessors arrive).
    pub changed: bool,
    /// The top-level types it changed, without duplicates.
    pub roots: Vec<Arc<str>>,
}

/// Decodes and applies a v1 update (see [`Applied`]). Yrs is guarded against
/// panics on hostile input: the update is refused instead.
pub(crate) fn apply_update(doc: &Doc, update: &[u8]) -> Result<Applied, EngineError> {
    // Before Yrs sees it: values nested deep enough would overflow the stack.
    crate::update_guard::check_update_v1(update)
        .map_err(|e| EngineError::InvalidUpdate(e.to_string()))?;
    let update = match catch_unwind(|| Update::decode_v1(update)) {
        Ok(Ok(u)) => u,
        Ok(Err(e)) => {
            return Err(EngineError::InvalidUpdate(format!(
                "update does not decode: {e}"
            )));
        }
        Err(_) => return Err(EngineError::InvalidUpdate("update does not decode".into())),
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        // Updates whose predecessors are missing are parked by Yrs, not integrated.
        // Such an update changes the document only if it changed what is parked:
        // "something is parked" alone would count every later duplicate as new.
        let parked_before = parked_state(&txn);
        txn.apply_update(update).map_err(|e| e.to_string())?;
        let integrated = !txn.insert_set().is_empty() || !txn.delete_set().is_empty();
        let changed = integrated || parked_state(&txn) != parked_before;
        // Committing now (rather than on drop) is what fills in the changed
        // types, every ancestor included, so the roots can be read here.
        txn.commit();
        let mut roots = changed_roots(&txn);
        // A root this update created is untyped (Yrs only knows a root's type
        // once someone asks for it), and Yrs reports no change for an untyped
        // type: count it, then type it so its later changes are reported.
        let untyped = untyped_roots(&txn);
        drop(txn);
        if !untyped.is_empty() {
            for (name, _) in &untyped {
                if !roots.contains(name) {
                    roots.push(name.clone());
                }
            }
            type_roots(doc, untyped);
        }
        Ok::<Applied, String>(Applied { changed, roots })
    }));
    match result {
        Ok(Ok(applied)) => Ok(applied),
        Ok(Err(e)) => Err(EngineError::InvalidUpdate(format!("update refused: {e}"))),
        Err(_) => Err(EngineError::InvalidUpdate(
            "update could not be integrated".into(),
        )),
    }
}

/// The root types among a committed transaction's changed types, in first-seen
/// order without duplicates.
fn changed_roots(txn: &yrs::TransactionMut<'_>) -> Vec<Arc<str>> {
    let mut roots: Vec<Arc<str>> = Vec::new();
    for branch in txn.changed_parent_types() {
        if let BranchID::Root(name) = branch.id()
            && !roots.contains(&name)
        {
            roots.push(name);
        }
    }
    roots
}

/// The roots Yrs does not know the type of, with the type their content
/// shows; empty roots are left out (nothing to report or type yet).
fn untyped_roots<T: ReadTxn>(txn: &T) -> Vec<(Arc<str>, In)> {
    txn.root_refs()
        .filter(|(_, out)| matches!(out, Out::UndefinedRef(_)))
        .map(|(name, out)| (Arc::from(name), out.as_prelim(txn)))
        .filter(|(_, kind)| !matches!(kind, In::Map(m) if m.is_empty()))
        .collect()
}

/// Gives each root in `untyped` the type its content shows, so that Yrs
/// reports its changes from now on (the server never defines types itself).
/// XML roots become fragments.
fn type_roots(doc: &Doc, untyped: Vec<(Arc<str>, In)>) {
    for (name, kind) in untyped {
        // Asking for a root's type is what sets it; the handle is not needed.
        match kind {
            In::Text(_) => {
                doc.get_or_insert_text(name);
            }
            In::Array(_) => {
                doc.get_or_insert_array(name);
            }
            In::Map(_) => {
                doc.get_or_insert_map(name);
            }
            In::XmlText(_) | In::XmlElement(_) | In::XmlFragment(_) => {
                doc.get_or_insert_xml_fragment(name);
            }
            _ => {}
        }
    }
}

/// Types the roots of a document loaded from the store (see [`type_roots`]).
pub(crate) fn type_stored_roots(doc: &Doc) {
    let untyped = untyped_roots(&doc.transact());
    type_roots(doc, untyped);
}

/// Stored updates applied per transaction when loading a document.
///
/// Yrs's cost per update grows with the size of the open transaction: a 100,000-
/// update log applied in one transaction took 12.4 s and 5.3 GB here, in
/// transactions of 1,000 updates 65 ms and 105 MB (the cold-load benchmark found it).
const LOAD_UPDATES_PER_TXN: usize = 512;

/// Applies stored updates (a snapshot, then the log tail) in transactions of
/// [`LOAD_UPDATES_PER_TXN`]. Fails with the sequence number of the first update
/// that does not decode or apply: stored data that cannot be right is an error,
/// never an empty document.
pub(crate) fn apply_stored<'a>(
    doc: &Doc,
    parts: impl Iterator<Item = &'a (u64, Bytes)>,
) -> Result<(), (u64, String)> {
    let mut txn = doc.transact_mut();
    for (i, (seq, bytes)) in parts.enumerate() {
        if i > 0 && i % LOAD_UPDATES_PER_TXN == 0 {
            // Commit and start a fresh transaction (see LOAD_UPDATES_PER_TXN).
            drop(txn);
            txn = doc.transact_mut();
        }
        let applied = catch_unwind(AssertUnwindSafe(|| {
            Update::decode_v1(bytes)
                .map_err(|e| e.to_string())
                .and_then(|u| txn.apply_update(u).map_err(|e| e.to_string()))
        }));
        match applied {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err((*seq, e)),
            Err(_) => return Err((*seq, "decoder panicked".into())),
        }
    }
    Ok(())
}

/// The whole document as one v1 update, including parked updates (the encoded
/// state leaves them out, so they are merged in). `None` while deletions are
/// parked: those cannot be expressed in an update, so the log must stay.
pub(crate) fn encode_snapshot(doc: &Doc) -> Option<Vec<u8>> {
    let txn = doc.transact();
    let state = txn.encode_state_as_update_v1(&StateVector::default());
    match (txn.store().pending_update(), txn.store().pending_ds()) {
        (_, Some(_)) => None,
        (None, None) => Some(state),
        (Some(p), None) => yrs::merge_updates_v1([state, p.update.encode_v1()]).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{GetString, Options, Text};

    #[test]
    fn each_update_reports_the_roots_it_changed_nested_ones_by_their_root() {
        use yrs::{Map, MapPrelim};
        let writer = Doc::new();
        let items = writer.get_or_insert_map("items");
        let title = writer.get_or_insert_text("title");
        let server = Doc::new();
        let step = |f: &dyn Fn(&mut yrs::TransactionMut)| {
            let mut txn = writer.transact_mut();
            f(&mut txn);
            let update = txn.encode_update_v1();
            drop(txn);
            apply_update(&server, &update).expect("applies").roots
        };
        let names = |v: Vec<Arc<str>>| v.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        // New roots are reported (and typed) the first time.
        let r = step(&|txn| {
            let row = items.insert(txn, "sku-1", MapPrelim::default());
            row.insert(txn, "price", 4500);
            title.insert(txn, 0, "Prices");
        });
        let mut r = names(r);
        r.sort();
        assert_eq!(r, ["items", "title"]);
        // A nested change is reported by its root.
        let r = step(&|txn| {
            if let Some(yrs::Out::YMap(row)) = items.get(txn, "sku-1") {
                row.insert(txn, "price", 4800);
            }
        });
        assert_eq!(names(r), ["items"]);
        let r = step(&|txn| title.insert(txn, 6, " 2026"));
        assert_eq!(names(r), ["title"]);
    }

    #[test]
    fn a_log_longer_than_one_load_transaction_loads_whole() {
        let writer = Doc::with_options(Options {
            client_id: yrs::block::ClientID::new(3),
            ..Options::default()
        });
        let text = writer.get_or_insert_text("t");
        let n = LOAD_UPDATES_PER_TXN * 2 + 77;
        let log: Vec<(u64, Bytes)> = (0..n)
            .map(|i| {
                let mut txn = writer.transact_mut();
                text.insert(&mut txn, i as u32, "x");
                (i as u64 + 1, Bytes::from(txn.encode_update_v1()))
            })
            .collect();
        let doc = Doc::new();
        apply_stored(&doc, log.iter()).unwrap();
        let loaded = doc.get_or_insert_text("t").get_string(&doc.transact());
        assert_eq!(loaded.len(), n);

        // A bad entry past the first transaction is still reported with its seq.
        let mut bad = log.clone();
        bad[LOAD_UPDATES_PER_TXN + 3].1 = Bytes::from_static(&[0xff, 0xff]);
        let err = apply_stored(&Doc::new(), bad.iter()).unwrap_err();
        assert_eq!(err.0, LOAD_UPDATES_PER_TXN as u64 + 4);
    }
}
