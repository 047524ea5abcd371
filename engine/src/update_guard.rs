//! Refusing updates that would exhaust the stack before Yrs decodes them.
//!
//! Yrs decodes the values inside an update (`Any`: arrays and maps nested in
//! arrays and maps) recursively, with no depth limit, and a stack overflow
//! aborts the whole process (`catch_unwind` cannot catch it): a 100 KB update
//! of nested arrays would take the server down. [`check_update_v1`] walks a v1
//! update the way Yrs reads it, without recursion, and refuses one whose values
//! nest deeper than [`MAX_VALUE_DEPTH`]. Anything it cannot follow is left to
//! Yrs, which refuses it with its own error; only the depth is decided here.
//! JSON inside updates (formats, embeds) is parsed by serde_json, which has its
//! own depth limit.
//!
//! [`check_state_vector`] refuses a state vector that declares more entries
//! than its bytes can hold (Yrs would reserve memory for all of them first).

use goonline_protocol::lib0::Reader;

/// Deepest nesting of values accepted in an update (Yjs documents in practice
/// nest a handful of levels).
pub const MAX_VALUE_DEPTH: usize = 256;

/// Why an update was refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Ok unless the v1 `update` holds values nested deeper than
/// [`MAX_VALUE_DEPTH`].
pub fn check_update_v1(update: &[u8]) -> Result<(), Refused> {
    match scan(update) {
        Err(Stop::TooDeep) => Err(Refused(format!(
            "the update nests values deeper than {MAX_VALUE_DEPTH} levels"
        ))),
        // Malformed: Yrs refuses it with a precise error.
        Ok(()) | Err(Stop::Malformed) => Ok(()),
    }
}

/// Ok unless the v1 state vector declares more entries than it can hold
/// (each entry takes at least two bytes).
pub fn check_state_vector(sv: &[u8]) -> Result<(), Refused> {
    let mut r = Reader::new(sv);
    match r.read_var_uint() {
        Ok(n) if n as usize > r.remaining().len() / 2 => Err(Refused(format!(
            "the state vector declares {n} entries in {} bytes",
            sv.len()
        ))),
        _ => Ok(()),
    }
}

enum Stop {
    TooDeep,
    Malformed,
}

impl From<goonline_protocol::lib0::DecodeError> for Stop {
    fn from(_: goonline_protocol::lib0::DecodeError) -> Stop {
        Stop::Malformed
    }
}

/// Content kinds of an item (the low 5 bits of its info byte).
const GC: u8 = 0;
const SKIP: u8 = 10;
const DELETED: u8 = 1;
const JSON: u8 = 2;
const BINARY: u8 = 3;
const STRING: u8 = 4;
const EMBED: u8 = 5;
const FORMAT: u8 = 6;
const TYPE: u8 = 7;
const ANY: u8 = 8;
const SUBDOC: u8 = 9;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

/// The blocks of a v1 update, as `Update::decode` reads them (the delete set
/// after them holds no values and is not read).
fn scan(update: &[u8]) -> Result<(), Stop> {
    let mut r = Reader::new(update);
    let clients = r.read_var_uint()?;
    for _ in 0..clients {
        let blocks = r.read_var_uint()?;
        r.read_var_uint()?; // client
        r.read_var_uint()?; // clock
        for _ in 0..blocks {
            block(&mut r)?;
        }
    }
    Ok(())
}

fn block(r: &mut Reader<'_>) -> Result<(), Stop> {
    let info = r.read_u8()?;
    match info {
        SKIP | GC => {
            r.read_var_uint()?;
            return Ok(());
        }
        _ => {}
    }
    let cant_copy_parent = info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0;
    for flag in [HAS_ORIGIN, HAS_RIGHT_ORIGIN] {
        if info & flag != 0 {
            r.read_var_uint()?;
            r.read_var_uint()?;
        }
    }
    if cant_copy_parent {
        if r.read_var_uint()? == 1 {
            r.read_var_bytes()?; // root name
        } else {
            r.read_var_uint()?;
            r.read_var_uint()?;
        }
        if info & HAS_PARENT_SUB != 0 {
            r.read_var_bytes()?;
        }
    }
    match info & 0b1_1111 {
        DELETED => {
            r.read_var_uint()?;
        }
        JSON => {
            for _ in 0..r.read_var_uint()? {
                r.read_var_bytes()?;
            }
        }
        BINARY | STRING | EMBED => {
            r.read_var_bytes()?;
        }
        FORMAT => {
            r.read_var_bytes()?;
            r.read_var_bytes()?;
        }
        TYPE => {
            // XmlElement (3) and XmlHook (5) carry a name.
            if matches!(r.read_u8()?, 3 | 5) {
                r.read_var_bytes()?;
            }
        }
        ANY => {
            for _ in 0..r.read_var_uint()? {
                value(r)?;
            }
        }
        SUBDOC => {
            r.read_var_bytes()?; // guid
            value(r)?; // options
        }
        _ => return Err(Stop::Malformed),
    }
    Ok(())
}

/// One `Any` value, nested ones included, with an explicit stack: each entry
/// is how many values remain at that level (map entries read their key first).
fn value(r: &mut Reader<'_>) -> Result<(), Stop> {
    // (values left, whether they are map entries with a key before each)
    let mut stack: Vec<(u64, bool)> = vec![(1, false)];
    while let Some(top) = stack.last_mut() {
        if top.0 == 0 {
            stack.pop();
            continue;
        }
        top.0 -= 1;
        if top.1 {
            r.read_var_bytes()?; // key
        }
        match r.read_u8()? {
            127 | 126 | 121 | 120 => {}
            125 => while r.read_u8()? & 0x80 != 0 {},
            124 => {
                r.read_bytes(4)?;
            }
            123 | 122 => {
                r.read_bytes(8)?;
            }
            119 | 116 => {
                r.read_var_bytes()?;
            }
            tag @ (118 | 117) => {
                let n = r.read_var_uint()?;
                if stack.len() >= MAX_VALUE_DEPTH {
                    return Err(Stop::TooDeep);
                }
                stack.push((n, tag == 118));
            }
            _ => return Err(Stop::Malformed),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Any, Array, Doc, Map, MapPrelim, Text, Transact};

    /// An update whose one array item is `depth` nested arrays around a null.
    fn nested(depth: usize, tag: u8) -> Vec<u8> {
        let doc = Doc::with_client_id(1);
        let a = doc.get_or_insert_array("a");
        let mut txn = doc.transact_mut();
        a.push_back(&mut txn, Any::Null);
        let mut u = txn.encode_update_v1();
        let pos = u.iter().rposition(|b| *b == 126).expect("the null");
        let mut deep = Vec::new();
        for _ in 0..depth {
            deep.push(tag);
            deep.push(1);
            if tag == 118 {
                deep.extend_from_slice(&[1, b'k']);
            }
        }
        deep.push(126);
        u.splice(pos..pos + 1, deep);
        u
    }

    #[test]
    fn deep_values_are_refused_and_ordinary_updates_pass() {
        assert!(check_update_v1(&nested(MAX_VALUE_DEPTH + 1, 117)).is_err());
        assert!(check_update_v1(&nested(100_000, 117)).is_err());
        assert!(check_update_v1(&nested(100_000, 118)).is_err());
        assert!(check_update_v1(&nested(MAX_VALUE_DEPTH - 1, 117)).is_ok());
        // What real editors send passes: text with formatting, nested maps,
        // arrays of values, XML.
        let doc = Doc::new();
        let t = doc.get_or_insert_text("t");
        let m = doc.get_or_insert_map("m");
        let a = doc.get_or_insert_array("a");
        let mut txn = doc.transact_mut();
        t.insert(&mut txn, 0, "hello");
        t.format(
            &mut txn,
            0,
            2,
            [("bold".into(), Any::Bool(true))].into_iter().collect(),
        );
        let row = m.insert(&mut txn, "sku", MapPrelim::default());
        row.insert(&mut txn, "price", 4500);
        row.insert(
            &mut txn,
            "tags",
            Any::from(vec![Any::from("a"), Any::from(1.5)]),
        );
        a.push_back(&mut txn, Any::from(7_i64 << 40));
        a.push_back(&mut txn, Any::from(vec![1u8, 2, 3]));
        let u = txn.encode_update_v1();
        assert_eq!(
            scan(&u).ok(),
            Some(()),
            "a real update is followed to its end"
        );
        // Garbage is left to Yrs.
        assert!(check_update_v1(&[0xff, 0xff, 0xff]).is_ok());
    }

    #[test]
    fn state_vectors_declaring_more_than_they_hold_are_refused() {
        assert!(check_state_vector(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(check_state_vector(&[1, 5, 3]).is_ok());
        assert!(check_state_vector(&[0]).is_ok());
    }
}
