//! Coalesced fan-out: what reaches a room while its fan-out is pending goes to the
//! sessions together, as one merged frame per session instead of one per change.
//!
//! Sending a frame costs a socket write per reader (microseconds of kernel time)
//! whatever its size, so under load the number of frames, not bytes, decides what a
//! room of a thousand readers costs. An update to a quiet room goes out at once;
//! one that follows another within 2 ms is held until the tasks already
//! runnable have run and, in a big room, a short gap after the previous fan-out
//! (16 µs per session, at most 10 ms): everything that arrived meanwhile is merged
//! with Yrs into one update. Awareness
//! changes are relayed at most once per `awareness_coalesce` window per room, the
//! newest state of each client winning, so a room where every cursor moves sends a
//! few frames a second per reader, not one per movement.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use goonline_protocol::awareness::{
    AwarenessEntry, decode_awareness_update, encode_awareness_update,
};
use tokio::time::Instant;

/// Changes waiting for the room's next fan-out.
#[derive(Default)]
pub(crate) struct Outbox {
    /// Updates in sequence order, with the membership that sent each.
    pub updates: Vec<(u64, Bytes)>,
    /// Whether a task will fan the updates out.
    pub updates_scheduled: bool,
    /// When updates were last fanned out.
    pub last_update_fan_out: Option<std::time::Instant>,
    /// Awareness updates (as the awareness table accepted them), oldest first.
    pub awareness: Vec<Vec<u8>>,
    /// Whether a task will fan the awareness out.
    pub awareness_scheduled: bool,
    /// When awareness was last fanned out.
    pub last_awareness: Option<Instant>,
}

/// A batch of updates ready to fan out.
pub(crate) struct MergedUpdates {
    /// The Yjs update to send: the only one, or all of them merged.
    pub data: Bytes,
    /// The membership to skip: the sender, when every update came from one.
    pub skip: Option<u64>,
}

/// Merges a batch of updates into what each session should receive. One update
/// goes out as it came; several are merged with Yrs. If merging fails (it should
/// not: each was applied already) they go out one by one.
pub(crate) fn merge_updates(batch: Vec<(u64, Bytes)>) -> Vec<MergedUpdates> {
    let sole_sender = batch
        .first()
        .map(|(from, _)| *from)
        .filter(|first| batch.iter().all(|(from, _)| from == first));
    if batch.len() <= 1 {
        return batch
            .into_iter()
            .map(|(from, data)| MergedUpdates {
                data,
                skip: Some(from),
            })
            .collect();
    }
    let merged = catch_unwind(AssertUnwindSafe(|| {
        yrs::merge_updates_v1(batch.iter().map(|(_, d)| d.as_ref()))
    }));
    match merged {
        Ok(Ok(data)) => vec![MergedUpdates {
            data: Bytes::from(data),
            skip: sole_sender,
        }],
        _ => batch
            .into_iter()
            .map(|(from, data)| MergedUpdates {
                data,
                skip: Some(from),
            })
            .collect(),
    }
}

/// Merges awareness updates into one: every client's newest entry (by clock,
/// later updates winning ties, so a removal is never lost to an equal clock).
pub(crate) fn merge_awareness(updates: &[Vec<u8>]) -> Option<Vec<u8>> {
    if let [only] = updates {
        return Some(only.clone());
    }
    let mut newest: BTreeMap<u64, AwarenessEntry<'_>> = BTreeMap::new();
    for update in updates {
        // The awareness table produced these, so they decode; skip one that doesn't.
        let Ok(entries) = decode_awareness_update(update) else {
            continue;
        };
        for e in entries {
            match newest.get(&e.client_id) {
                Some(old) if old.clock > e.clock => {}
                _ => {
                    newest.insert(e.client_id, e);
                }
            }
        }
    }
    if newest.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    encode_awareness_update(newest.into_values(), &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, Options, Text, Transact, Update};

    fn edits(client: u64, n: u32) -> Vec<Bytes> {
        let doc = Doc::with_options(Options {
            client_id: yrs::block::ClientID::new(client),
            ..Options::default()
        });
        let text = doc.get_or_insert_text("t");
        (0..n)
            .map(|i| {
                let mut txn = doc.transact_mut();
                text.insert(&mut txn, i, "x");
                Bytes::from(txn.encode_update_v1())
            })
            .collect()
    }

    #[test]
    fn one_update_goes_out_as_it_came_skipping_its_sender() {
        let u = edits(1, 1);
        let out = merge_updates(vec![(7, u[0].clone())]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, u[0]);
        assert_eq!(out[0].skip, Some(7));
    }

    #[test]
    fn several_updates_merge_into_one_that_holds_them_all() {
        let a = edits(1, 3);
        let b = edits(2, 2);
        let batch = vec![
            (7, a[0].clone()),
            (8, b[0].clone()),
            (7, a[1].clone()),
            (7, a[2].clone()),
            (8, b[1].clone()),
        ];
        let out = merge_updates(batch);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].skip, None, "two senders: both get the merged frame");
        let doc = Doc::new();
        let text = doc.get_or_insert_text("t");
        doc.transact_mut()
            .apply_update(Update::decode_v1(&out[0].data).unwrap())
            .unwrap();
        assert_eq!(text.get_string(&doc.transact()).len(), 5);

        let out = merge_updates(vec![(7, a[0].clone()), (7, a[1].clone())]);
        assert_eq!(out[0].skip, Some(7), "one sender is skipped");
    }

    #[test]
    fn awareness_keeps_each_clients_newest_state() {
        let enc = |entries: &[(u64, u64, &str)]| {
            let mut out = Vec::new();
            encode_awareness_update(
                entries.iter().map(|(c, k, s)| AwarenessEntry {
                    client_id: *c,
                    clock: *k,
                    state: s,
                }),
                &mut out,
            );
            out
        };
        let merged = merge_awareness(&[
            enc(&[(1, 1, "{\"a\":1}")]),
            enc(&[(2, 5, "{\"b\":1}"), (1, 2, "{\"a\":2}")]),
            enc(&[(1, 2, "null")]),
            enc(&[(2, 4, "{\"old\":1}")]),
        ])
        .unwrap();
        let entries = decode_awareness_update(&merged).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            (entries[0].client_id, entries[0].clock, entries[0].state),
            (1, 2, "null")
        );
        assert_eq!(
            (entries[1].client_id, entries[1].clock, entries[1].state),
            (2, 5, "{\"b\":1}")
        );
        assert_eq!(merge_awareness(&[]), None);
    }
}
