//! The fault-injection hook: drop every Nth received document update or topic
//! event on purpose.
//!
//! Pub/sub loses messages for real only in outages that are hard to stage, yet
//! the receivers' gap detection (a sequence number that jumps, repaired from
//! the store) is what keeps nodes convergent. This hook lets tests lose
//! messages deterministically. Only sequenced payloads are dropped: losing
//! them is what gap detection exists for, while a lost awareness or control
//! message has no sequence to notice the hole by.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::bus::BusPayload;

/// Counts sequenced messages and says which to drop.
#[derive(Default)]
pub(super) struct FaultHook {
    /// Drop every `every`th one; 0 is off.
    every: AtomicU32,
    /// Sequenced messages seen since the hook was last set.
    seen: AtomicU64,
}

impl FaultHook {
    pub(super) fn new(every: Option<u32>) -> FaultHook {
        let hook = FaultHook::default();
        hook.set(every);
        hook
    }

    /// Turns the hook on (`Some(n)`, n > 0) or off, and restarts its count.
    pub(super) fn set(&self, every: Option<u32>) {
        self.seen.store(0, Ordering::Relaxed);
        self.every.store(every.unwrap_or(0), Ordering::Relaxed);
    }

    /// Whether this received message is to be dropped.
    pub(super) fn should_drop(&self, payload: &BusPayload) -> bool {
        if !matches!(
            payload,
            BusPayload::Update { .. } | BusPayload::TopicEvent { .. }
        ) {
            return false;
        }
        let every = u64::from(self.every.load(Ordering::Relaxed));
        if every == 0 {
            return false;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        n.is_multiple_of(every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn update() -> BusPayload {
        BusPayload::Update {
            seq: 1,
            data: Bytes::new(),
        }
    }

    #[test]
    fn drops_every_nth_sequenced_message_only() {
        let hook = FaultHook::new(Some(3));
        let dropped: Vec<bool> = (0..6).map(|_| hook.should_drop(&update())).collect();
        assert_eq!(dropped, [false, false, true, false, false, true]);
        assert!(!hook.should_drop(&BusPayload::AwarenessQuery));
        hook.set(None);
        assert!((0..10).all(|_| !hook.should_drop(&update())));
        hook.set(Some(1));
        assert!(hook.should_drop(&update()));
    }
}
