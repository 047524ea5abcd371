//! The y-protocols awareness update (`encodeAwarenessUpdate` in
//! `y-protocols/awareness.js`): who is here and their cursor/presence state.
//!
//! Layout: `varUint n`, then `n` times `varUint clientID, varUint clock,
//! varString JSON(state)`. A state of JSON `null` means the client left. This is the
//! *inner* update; the dialects wrap it in a varByteArray after their message type.
//!
//! States are kept as JSON text and not parsed here: the server relays them, and
//! whoever needs the contents parses them.

use crate::lib0::{DecodeError, Reader, write_var_string, write_var_uint};

/// The JSON text of a removed client's state (`JSON.stringify(null)`).
pub const REMOVED_STATE: &str = "null";

/// Each entry takes at least this many bytes (three one-byte varUints: client,
/// clock, string length 0); bounds how many entries a buffer can hold.
const MIN_ENTRY_BYTES: usize = 3;

/// One client's awareness state in an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwarenessEntry<'a> {
    /// The Yjs client ID (a 32-bit random number in Yjs, but read as a varUint).
    pub client_id: u64,
    /// Bumped by the client on every change; receivers keep the higher clock.
    pub clock: u64,
    /// The state as JSON text; `"null"` means the client was removed.
    pub state: &'a str,
}

impl AwarenessEntry<'_> {
    /// True when this entry says the client left (its state is JSON `null`).
    pub fn is_removal(&self) -> bool {
        self.state == REMOVED_STATE
    }
}

/// Decodes an awareness update (the unwrapped bytes). Trailing bytes are an error.
pub fn decode_awareness_update(bytes: &[u8]) -> Result<Vec<AwarenessEntry<'_>>, DecodeError> {
    let mut r = Reader::new(bytes);
    let n = r.read_var_uint()?;
    // `n` comes from the peer: never reserve more entries than the bytes left can
    // hold, so a claimed count of 2^53 does not allocate.
    let cap = usize::try_from(n)
        .unwrap_or(usize::MAX)
        .min(r.remaining().len() / MIN_ENTRY_BYTES);
    let mut entries = Vec::with_capacity(cap);
    for _ in 0..n {
        entries.push(AwarenessEntry {
            client_id: r.read_var_uint()?,
            clock: r.read_var_uint()?,
            state: r.read_var_string()?,
        });
    }
    r.finish()?;
    Ok(entries)
}

/// Appends an awareness update holding `entries` (count first, then each entry).
pub fn encode_awareness_update<'b>(
    entries: impl IntoIterator<Item = AwarenessEntry<'b>>,
    out: &mut Vec<u8>,
) {
    // The count precedes the entries, so gather them first to know it.
    let entries: Vec<AwarenessEntry<'b>> = entries.into_iter().collect();
    write_var_uint(out, entries.len() as u64);
    for e in &entries {
        write_var_uint(out, e.client_id);
        write_var_uint(out, e.clock);
        write_var_string(out, e.state);
    }
}
