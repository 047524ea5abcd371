//! What one reader saw: which edits arrived (by writer and clock), how late, and
//! how often twice.
//!
//! Writers record the time they send each edit in a shared table indexed by clock;
//! a reader that finds clock `c` of writer `w` in an update looks the send time up,
//! so latency needs no timestamp inside the edit and survives servers that merge
//! several edits into one frame.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::histogram::Histogram;
use crate::yupdate::for_each_range;

/// One writer's edits: its Yjs client id and when each clock was sent.
pub struct WriterTrack {
    /// The writer's Yjs client id.
    pub client: u64,
    /// Nanoseconds after [`Clocks::base`] at which clock `i` was sent (0 = not yet).
    pub sent_ns: Vec<AtomicU64>,
}

/// The send times of every writer in a run.
pub struct Clocks {
    /// The instant all times are measured from.
    pub base: Instant,
    /// Writers by index.
    pub writers: Vec<WriterTrack>,
    by_client: HashMap<u64, usize>,
}

impl Clocks {
    /// A table for writers with these client ids and edit counts.
    pub fn new(writers: impl IntoIterator<Item = (u64, usize)>) -> Clocks {
        let writers: Vec<WriterTrack> = writers
            .into_iter()
            .map(|(client, edits)| WriterTrack {
                client,
                sent_ns: (0..edits).map(|_| AtomicU64::new(0)).collect(),
            })
            .collect();
        let by_client = writers
            .iter()
            .enumerate()
            .map(|(i, w)| (w.client, i))
            .collect();
        Clocks {
            base: Instant::now(),
            writers,
            by_client,
        }
    }

    /// Nanoseconds since the base.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// Marks clock `clock` of writer `writer` as sent now.
    pub fn mark_sent(&self, writer: usize, clock: usize) {
        // Never 0, which means "not sent".
        let now = self.now_ns().max(1);
        self.writers[writer].sent_ns[clock].store(now, Ordering::Release);
    }
}

/// A fixed-size set of clocks.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }

    /// Sets bit `i`; returns whether it was clear.
    fn insert(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let fresh = self.0[w] & b == 0;
        self.0[w] |= b;
        fresh
    }
}

/// One reader's record of the edits it expects.
pub struct Tally {
    clocks: Arc<Clocks>,
    /// (writer index, clocks seen) for the writers of this reader's document.
    expected: Vec<(usize, Bits)>,
    /// Latencies of first deliveries, in microseconds.
    pub latency: Histogram,
    /// Edits delivered for the first time.
    pub delivered: u64,
    /// Edits delivered again.
    pub duplicates: u64,
    /// Frames that carried at least one new edit.
    pub frames: u64,
    /// Clocks of clients this reader does not expect (other writers, or garbage).
    pub foreign: u64,
    /// Updates whose structs could not be read.
    pub unreadable: u64,
}

impl Tally {
    /// A tally expecting every edit of the writers `writers` (indices in `clocks`).
    pub fn new(clocks: Arc<Clocks>, writers: &[usize]) -> Tally {
        let expected = writers
            .iter()
            .map(|&w| (w, Bits::new(clocks.writers[w].sent_ns.len())))
            .collect();
        Tally {
            clocks,
            expected,
            latency: Histogram::new(),
            delivered: 0,
            duplicates: 0,
            frames: 0,
            foreign: 0,
            unreadable: 0,
        }
    }

    /// Number of edit deliveries this reader expects in all.
    pub fn expected(&self) -> u64 {
        self.expected
            .iter()
            .map(|(w, _)| self.clocks.writers[*w].sent_ns.len() as u64)
            .sum()
    }

    /// Records the edits in `update`, received now; returns how many were new.
    pub fn record(&mut self, update: &[u8]) -> u64 {
        let now = self.clocks.now_ns();
        let before = self.delivered;
        let Tally {
            clocks,
            expected,
            latency,
            delivered,
            duplicates,
            foreign,
            ..
        } = self;
        let result = for_each_range(update, |range| {
            let Some(&w) = clocks.by_client.get(&range.client) else {
                *foreign += range.len;
                return;
            };
            let Some((_, seen)) = expected.iter_mut().find(|(i, _)| *i == w) else {
                *foreign += range.len;
                return;
            };
            let sent = &clocks.writers[w].sent_ns;
            for clock in range.clock..range.clock.saturating_add(range.len) {
                let Some(at) = sent.get(clock as usize) else {
                    *foreign += 1;
                    continue;
                };
                if seen.insert(clock as usize) {
                    *delivered += 1;
                    let at = at.load(Ordering::Acquire);
                    latency.record(now.saturating_sub(at) / 1000);
                } else {
                    *duplicates += 1;
                }
            }
        });
        if result.is_err() {
            self.unreadable += 1;
        }
        let new = self.delivered - before;
        if new > 0 {
            self.frames += 1;
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edits(client: u64, n: usize) -> Vec<Vec<u8>> {
        crate::edits::appends(client, n).0
    }

    #[test]
    fn merged_frames_count_every_edit_once() {
        let clocks = Arc::new(Clocks::new([(11, 4), (12, 2)]));
        for c in 0..4 {
            clocks.mark_sent(0, c);
        }
        let a = edits(11, 4);
        let b = edits(12, 2);
        let mut tally = Tally::new(clocks.clone(), &[0]);
        assert_eq!(tally.expected(), 4);
        assert_eq!(tally.record(&a[0]), 1);
        let merged = yrs::merge_updates_v1([&a[1][..], &a[2], &a[3], &b[0]]).unwrap();
        assert_eq!(tally.record(&merged), 3);
        assert_eq!(tally.foreign, 1, "writer 12 is not this reader's");
        assert_eq!(tally.record(&a[2]), 0);
        assert_eq!(tally.duplicates, 1);
        assert_eq!(
            (tally.delivered, tally.frames, tally.latency.count()),
            (4, 2, 4)
        );
        assert_eq!(tally.record(&[9, 9]), 0);
        assert_eq!(tally.unreadable, 1);
    }
}
