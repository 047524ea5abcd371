//! Reads which edits a Yjs v1 update carries, without a Yjs document.
//!
//! Servers merge updates under load (Hocuspocus packs every update of one event
//! loop turn into one frame), so a reader cannot count frames: it must ask each
//! update which `(client, clock)` ranges it holds. A v1 update is a list of struct
//! groups, each `client, first clock, structs...`; the clock range of a group is
//! the sum of its structs' lengths. This walks the structs just far enough to learn
//! each one's length, which is cheap next to integrating them into a document.

use goonline_protocol::lib0::{DecodeError, Reader};

/// A run of consecutive clocks of one client carried by an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockRange {
    /// The client id of the writer.
    pub client: u64,
    /// The first clock in the range.
    pub clock: u64,
    /// How many clocks the range covers (a one-character insert is 1).
    pub len: u64,
}

// Content kinds (the low five bits of a struct's info byte).
const GC: u8 = 0;
const DELETED: u8 = 1;
const JSON: u8 = 2;
const BINARY: u8 = 3;
const STRING: u8 = 4;
const EMBED: u8 = 5;
const FORMAT: u8 = 6;
const TYPE: u8 = 7;
const ANY: u8 = 8;
const DOC: u8 = 9;
const SKIP: u8 = 10;

// Type refs that carry a name (XmlElement, XmlHook).
const TYPE_XML_ELEMENT: u64 = 3;
const TYPE_XML_HOOK: u64 = 5;

/// Calls `each` with every clock range in the struct groups of `update` (the
/// delete set at the end is not read). Ranges of `GC`/`Skip` structs are left out:
/// they are not edits.
pub fn for_each_range(update: &[u8], mut each: impl FnMut(ClockRange)) -> Result<(), DecodeError> {
    let mut r = Reader::new(update);
    let groups = r.read_var_uint()?;
    for _ in 0..groups {
        let structs = r.read_var_uint()?;
        let client = r.read_var_uint()?;
        let mut clock = r.read_var_uint()?;
        // Consecutive items of one group form one range; a GC or Skip splits it.
        let mut start = clock;
        for _ in 0..structs {
            let info = r.read_u8()?;
            let (len, is_edit) = struct_len(&mut r, info)?;
            if !is_edit {
                if clock > start {
                    each(ClockRange {
                        client,
                        clock: start,
                        len: clock - start,
                    });
                }
                start = clock + len;
            }
            clock += len;
        }
        if clock > start {
            each(ClockRange {
                client,
                clock: start,
                len: clock - start,
            });
        }
    }
    Ok(())
}

/// Reads one struct after its info byte; returns its clock length and whether it
/// is an item (an edit) rather than a GC or Skip placeholder.
fn struct_len(r: &mut Reader<'_>, info: u8) -> Result<(u64, bool), DecodeError> {
    let kind = info & 0x1f;
    match kind {
        GC | SKIP => return Ok((r.read_var_uint()?, false)),
        _ => {}
    }
    let has_origin = info & 0x80 != 0;
    let has_right_origin = info & 0x40 != 0;
    if has_origin {
        r.read_var_uint()?;
        r.read_var_uint()?;
    }
    if has_right_origin {
        r.read_var_uint()?;
        r.read_var_uint()?;
    }
    if !has_origin && !has_right_origin {
        // The parent is written out: a root type name or the id of a type item.
        if r.read_var_uint()? == 1 {
            r.read_var_string()?;
        } else {
            r.read_var_uint()?;
            r.read_var_uint()?;
        }
        if info & 0x20 != 0 {
            r.read_var_string()?;
        }
    }
    let len = match kind {
        DELETED => r.read_var_uint()?,
        JSON => {
            let n = r.read_var_uint()?;
            for _ in 0..n {
                r.read_var_string()?;
            }
            n
        }
        BINARY => {
            r.read_var_bytes()?;
            1
        }
        STRING => utf16_len(r.read_var_string()?),
        EMBED => {
            r.read_var_string()?;
            1
        }
        FORMAT => {
            r.read_var_string()?;
            r.read_var_string()?;
            1
        }
        TYPE => {
            let type_ref = r.read_var_uint()?;
            if type_ref == TYPE_XML_ELEMENT || type_ref == TYPE_XML_HOOK {
                r.read_var_string()?;
            }
            1
        }
        ANY => {
            let n = r.read_var_uint()?;
            for _ in 0..n {
                skip_any(r, 0)?;
            }
            n
        }
        DOC => {
            r.read_var_string()?;
            skip_any(r, 0)?;
            1
        }
        value => {
            return Err(DecodeError::UnknownMessageType {
                kind: "Yjs struct content",
                value: u64::from(value),
            });
        }
    };
    Ok((len, true))
}

/// Yjs counts string lengths in UTF-16 code units.
fn utf16_len(s: &str) -> u64 {
    s.chars().map(|c| c.len_utf16() as u64).sum()
}

/// Skips one lib0 `Any` value.
fn skip_any(r: &mut Reader<'_>, depth: u32) -> Result<(), DecodeError> {
    if depth > 64 {
        return Err(DecodeError::UnknownMessageType {
            kind: "Any nesting",
            value: 64,
        });
    }
    match r.read_u8()? {
        // undefined, null, false, true
        127 | 126 | 121 | 120 => {}
        // varint (zig-zag style lib0 varInt: same byte layout as a varUint here)
        125 => {
            r.read_var_uint()?;
        }
        124 => {
            r.read_bytes(4)?;
        }
        123 | 122 => {
            r.read_bytes(8)?;
        }
        119 => {
            r.read_var_string()?;
        }
        118 => {
            let n = r.read_var_uint()?;
            for _ in 0..n {
                r.read_var_string()?;
                skip_any(r, depth + 1)?;
            }
        }
        117 => {
            let n = r.read_var_uint()?;
            for _ in 0..n {
                skip_any(r, depth + 1)?;
            }
        }
        116 => {
            r.read_var_bytes()?;
        }
        value => {
            return Err(DecodeError::UnknownMessageType {
                kind: "Any",
                value: u64::from(value),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, GetString, Options, ReadTxn, Text, Transact, Update};

    fn writer(client: u64) -> (Doc, yrs::TextRef) {
        let doc = Doc::with_options(Options {
            client_id: yrs::block::ClientID::new(client),
            ..Options::default()
        });
        let text = doc.get_or_insert_text("t");
        (doc, text)
    }

    fn ranges(update: &[u8]) -> Vec<ClockRange> {
        let mut v = Vec::new();
        for_each_range(update, |r| v.push(r)).unwrap();
        v
    }

    #[test]
    fn single_inserts_are_one_clock_each() {
        let (doc, text) = writer(7);
        for i in 0..3u64 {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, i as u32, "x");
            let update = txn.encode_update_v1();
            assert_eq!(
                ranges(&update),
                vec![ClockRange {
                    client: 7,
                    clock: i,
                    len: 1
                }]
            );
        }
    }

    #[test]
    fn merged_updates_of_two_writers_cover_every_edit() {
        let (a, ta) = writer(1);
        let (b, tb) = writer(2);
        let mut updates = Vec::new();
        for _ in 0..5 {
            let mut txn = a.transact_mut();
            let end = ta.len(&txn);
            ta.insert(&mut txn, end, "ä😀");
            updates.push(txn.encode_update_v1());
            drop(txn);
            let mut txn = b.transact_mut();
            let end = tb.len(&txn);
            tb.insert(&mut txn, end, "y");
            updates.push(txn.encode_update_v1());
        }
        let merged = yrs::merge_updates_v1(&updates).unwrap();
        let mut covered = std::collections::BTreeMap::new();
        for r in ranges(&merged) {
            *covered.entry(r.client).or_insert(0) += r.len;
        }
        // "ä😀" is 1 + 2 UTF-16 units per insert.
        assert_eq!(covered[&1], 15);
        assert_eq!(covered[&2], 5);

        // The whole state of a document, as a server sends it in sync step 2.
        let c = Doc::new();
        let mut txn = c.transact_mut();
        txn.apply_update(Update::decode_v1(&merged).unwrap())
            .unwrap();
        drop(txn);
        let state = c
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        let total: u64 = ranges(&state).iter().map(|r| r.len).sum();
        assert_eq!(total, 20);
        assert_eq!(
            c.get_or_insert_text("t")
                .get_string(&c.transact())
                .chars()
                .count(),
            15
        );
    }

    #[test]
    fn deletes_and_maps_parse() {
        let doc = Doc::with_options(Options {
            client_id: yrs::block::ClientID::new(9),
            ..Options::default()
        });
        let map = doc.get_or_insert_map("m");
        let text = doc.get_or_insert_text("t");
        let mut txn = doc.transact_mut();
        yrs::Map::insert(&map, &mut txn, "k", 42.5);
        yrs::Map::insert(&map, &mut txn, "s", "v");
        text.insert(&mut txn, 0, "abc");
        text.remove_range(&mut txn, 1, 1);
        let update = txn.encode_update_v1();
        let total: u64 = ranges(&update).iter().map(|r| r.len).sum();
        assert_eq!(total, 5);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(for_each_range(&[5, 1, 2], |_| {}).is_err());
        assert!(for_each_range(&[1, 1, 1, 0, 0x1f], |_| {}).is_err());
        assert!(for_each_range(&[], |_| {}).is_err());
    }
}
