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
