//! Applying updates to a Yrs document safely, and encoding it for a snapshot.
//!
//! Everything here guards Yrs against hostile input (`catch_unwind`: a panic is a
//! refused update, never a crashed server) and knows about *parked* updates:
//! updates whose predecessors have not arrived are stashed by Yrs rather than
//! integrated, and they must neither be counted twice nor be lost by compaction.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

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

/// Decodes and applies a v1 update; returns whether it changed the document
/// (including updates parked until their predecessors arrive). Yrs is guarded
/// against panics on hostile input: the update is refused instead.
pub(crate) fn apply_update(doc: &Doc, update: &[u8]) -> Result<bool, EngineError> {
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
        Ok::<bool, String>(integrated || parked_state(&txn) != parked_before)
    }));
    match result {
        Ok(Ok(changed)) => Ok(changed),
        Ok(Err(e)) => Err(EngineError::InvalidUpdate(format!("update refused: {e}"))),
        Err(_) => Err(EngineError::InvalidUpdate(
            "update could not be integrated".into(),
        )),
    }
}

/// Applies stored updates (a snapshot, then the log tail) in one transaction.
/// Fails with the sequence number of the first update that does not decode or
/// apply: stored data that cannot be right is an error, never an empty document.
pub(crate) fn apply_stored<'a>(
    doc: &Doc,
    parts: impl Iterator<Item = &'a (u64, Bytes)>,
) -> Result<(), (u64, String)> {
    let mut txn = doc.transact_mut();
    for (seq, bytes) in parts {
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
