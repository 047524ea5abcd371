//! Filling holes in a live topic's sequence from the store: an event that
//! arrives before the ones it follows waits briefly; if they do not come (their
//! appender was cancelled before announcing them, or another node's bus message
//! was lost), they are read back, and what the store no longer keeps is
//! announced as a gap.

use std::sync::Arc;

use super::super::store;
use super::{LiveTopic, REPAIR_AFTER, REPAIR_PAGE};
use crate::metrics::inc;
use crate::outbound::Outbound;

/// Fills the hole before the earliest pending event from the store. Events the
/// store no longer keeps (trimmed by retention in the meantime) are announced to
/// live subscribers as a gap.
pub(super) async fn repair(topic: Arc<LiveTopic>) {
    loop {
        tokio::time::sleep(REPAIR_AFTER).await;
        let (head, until) = {
            let mut st = topic.lock();
            match (st.head, st.pending.keys().next().copied()) {
                (Some(head), Some(first)) if first > head + 1 => (head, first),
                _ => {
                    st.repairing = false;
                    return;
                }
            }
        };
        let missing = (until - head - 1).min(u64::from(REPAIR_PAGE)) as u32;
        inc(&topic.metrics.topic_repairs);
        match store::read_after(&topic.pool, &topic.name, head, missing).await {
            Ok(events) => {
                let mut st = topic.lock();
                let first_found = events.first().map(|e| e.seq).unwrap_or(until);
                if first_found > head + 1 && st.head == Some(head) {
                    // Not kept any more: say so rather than skip silently.
                    let (from, to) = (head + 1, first_found - 1);
                    // Latest-value subscribers never get a gap: only the newest value matters.
                    let told = st
                        .subs
                        .iter()
                        .filter(|s| s.live && s.after < to && s.latest.is_none());
                    for s in told {
                        s.tx.send(Outbound::TopicGap {
                            topic: topic.name.clone(),
                            from: from.max(s.after + 1),
                            to,
                        });
                    }
                    st.head = Some(to);
                }
                for e in events.into_iter().filter(|e| e.seq < until) {
                    st.pending.entry(e.seq).or_insert(e);
                }
                st.repairing = false;
                topic.drain(&mut st);
                topic.advanced.notify_waiters();
                if st.repairing {
                    // `drain` started another round.
                    return;
                }
                if st.pending.is_empty() {
                    return;
                }
                st.repairing = true;
            }
            Err(e) => {
                tracing::warn!(topic = %topic.name, error = %e, "topic repair read failed; retrying");
            }
        }
    }
}
