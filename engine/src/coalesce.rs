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
    pub last_update_fan_out: Option<Instant>,
    /// Awareness updates (as the awareness table accepted them), oldest first.
    pub awareness: Vec<Vec<u8>>,
    /// Whether a task will fan the awareness out.
    pub awareness_scheduled: bool,
    /// When awareness was last fanned out.
    pub last_awareness: Option<Instant>,
}

/// Who receives one merged update.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Audience {
    /// Every membership except these (the batch's senders).
    AllBut(Vec<u64>),
    /// This membership alone (a sender, getting everyone else's updates).
    Only(u64),
}

impl Audience {
    /// Whether membership `id` receives the update.
    pub(crate) fn includes(&self, id: u64) -> bool {
        match self {
            Audience::AllBut(skip) => !skip.contains(&id),
            Audience::Only(only) => *only == id,
        }
    }
}

/// A batch of updates ready to fan out.
pub(crate) struct MergedUpdates {
    /// The Yjs update to send: the only one, or several merged.
    pub data: Bytes,
    /// Who gets it.
    pub to: Audience,
}

/// Merges a batch of updates into what each session should receive: sessions that
/// sent nothing get everything in one update; a sender never gets its own update
/// back (for y-websocket clients the echo of their own update is its durability
/// ack, so an early copy would claim durability too soon), so when the batch has
/// several senders each gets the others' updates merged. If merging fails (it
/// should not: each was applied already) the updates go out one by one.
pub(crate) fn merge_updates(batch: Vec<(u64, Bytes)>) -> Vec<MergedUpdates> {
    let mut senders: Vec<u64> = batch.iter().map(|(from, _)| *from).collect();
    senders.sort_unstable();
    senders.dedup();
    let Some(all) = merge(batch.iter().map(|(_, d)| d)) else {
        return one_by_one(batch);
    };
    let mut out = vec![MergedUpdates {
        data: all,
        to: Audience::AllBut(senders.clone()),
    }];
    if senders.len() > 1 {
        for &sender in &senders {
            let others = batch.iter().filter(|(from, _)| *from != sender);
            let Some(data) = merge(others.map(|(_, d)| d)) else {
                return one_by_one(batch);
            };
            out.push(MergedUpdates {
                data,
                to: Audience::Only(sender),
            });
        }
    }
    out
}

/// One update as it is, several merged with Yrs; `None` if Yrs fails.
fn merge<'a>(parts: impl Iterator<Item = &'a Bytes>) -> Option<Bytes> {
    let parts: Vec<&Bytes> = parts.collect();
    if let [only] = parts.as_slice() {
        return Some((*only).clone());
    }
    let merged = catch_unwind(AssertUnwindSafe(|| {
        yrs::merge_updates_v1(parts.iter().map(|d| d.as_ref()))
    }));
    match merged {
        Ok(Ok(data)) => Some(Bytes::from(data)),
        _ => None,
    }
}

fn one_by_one(batch: Vec<(u64, Bytes)>) -> Vec<MergedUpdates> {
    batch
        .into_iter()
        .map(|(from, data)| MergedUpdates {
            data,
            to: Audience::AllBut(vec![from]),
        })
        .collect()
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
        assert_eq!(out[0].to, Audience::AllBut(vec![7]));
    }

    #[test]
    fn several_updates_merge_and_no_sender_gets_its_own_back() {
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
        let text_of = |u: &Bytes| {
            let doc = Doc::new();
            let text = doc.get_or_insert_text("t");
            doc.transact_mut()
                .apply_update(Update::decode_v1(u).unwrap())
                .unwrap();
            text.get_string(&doc.transact()).len()
        };
        // Readers get all five edits in one update; each sender only the other's.
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].to, Audience::AllBut(vec![7, 8]));
        assert_eq!(text_of(&out[0].data), 5);
        assert_eq!(out[1].to, Audience::Only(7));
        assert_eq!(text_of(&out[1].data), 2, "7 gets 8's two edits");
        assert_eq!(out[2].to, Audience::Only(8));
        assert_eq!(text_of(&out[2].data), 3, "8 gets 7's three edits");
        assert!(!out[0].to.includes(7) && out[0].to.includes(9));

        let out = merge_updates(vec![(7, a[0].clone()), (7, a[1].clone())]);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].to,
            Audience::AllBut(vec![7]),
            "one sender is skipped"
        );
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
