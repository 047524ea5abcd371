//! The update that turns a document's content into a target's, as a new
//! change on top (see [`restore_update`]).
//!
//! It is computed on a private copy of the current state, with a client id of
//! its own, by reconciling each root with the target's: what already matches
//! is left alone (so edits made to it concurrently still merge, and unchanged
//! rows keep their identity for editors), what differs is replaced with a deep
//! copy of the target's. Texts keep their formatting; maps recurse key by key;
//! arrays and XML fragments replace only the range that differs, and
//! reconcile item by item when that range has the same length on both sides.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use yrs::types::xml::{XmlIn, XmlOut};
use yrs::types::{AsPrelim, Attrs};
use yrs::updates::decoder::Decode;
use yrs::{
    Array, ArrayRef, Doc, Map, MapRef, OffsetKind, Out, ReadTxn, StateVector, Text, Transact,
    TransactionMut, Update, WriteTxn, Xml, XmlElementRef, XmlFragment, XmlFragmentRef,
    branch::BranchPtr,
};

use super::diff::xml_string;
use super::units::{Piece, Unit, common_ends, offset_len, text_units};
use super::{Kind, kind_of, out_json, root, root_names};

/// A Yjs v1 update that, applied to `current`, makes its content equal to
/// `target`'s (see the module overview). `None` when the contents are already
/// equal, or `current` cannot be copied.
pub fn restore_update(current: &Doc, target: &Doc) -> Option<Vec<u8>> {
    let copy = Doc::new();
    {
        let state = current
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let update = Update::decode_v1(&state).ok()?;
        copy.transact_mut().apply_update(update).ok()?;
    }
    let units = copy.offset_kind();
    let tt = target.transact();
    let plan: Vec<(String, Kind, Kind)> = {
        let ct = copy.transact();
        let mut names = root_names(&ct);
        names.extend(root_names(&tt));
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|n| {
                let ck = root(&ct, &n).map_or(Kind::Empty, |b| kind_of(&ct, b));
                let tk = root(&tt, &n).map_or(Kind::Empty, |b| kind_of(&tt, b));
                (n, ck, tk)
            })
            .collect()
    };
    let mut txn = copy.transact_mut();
    for (name, ck, tk) in plan {
        if ck != Kind::Empty
            && ck != tk
            && let Some(b) = root(&txn, &name)
        {
            clear(&mut txn, b, ck, units);
        }
        let Some(tb) = root(&tt, &name) else {
            continue;
        };
        match tk {
            Kind::Empty => {}
            Kind::Text => {
                let cur = txn.get_or_insert_text(name.as_str());
                text(&mut txn, &cur, &tt, &yrs::TextRef::from(tb), units);
            }
            Kind::Array => {
                let cur = txn.get_or_insert_array(name.as_str());
                array(&mut txn, &cur, &tt, &ArrayRef::from(tb), units);
            }
            Kind::Map => {
                let cur = txn.get_or_insert_map(name.as_str());
                map(&mut txn, &cur, &tt, &MapRef::from(tb), units);
            }
            Kind::Xml => {
                let cur = txn.get_or_insert_xml_fragment(name.as_str());
                children(&mut txn, &cur, &tt, &XmlFragmentRef::from(tb), units);
            }
        }
    }
    if txn.insert_set().is_empty() && txn.delete_set().is_empty() {
        return None;
    }
    Some(txn.encode_update_v1())
}

/// Empties a root of kind `kind`.
fn clear(txn: &mut TransactionMut, b: BranchPtr, kind: Kind, units: OffsetKind) {
    match kind {
        Kind::Empty => {}
        Kind::Text => {
            let t = yrs::TextRef::from(b);
            let len = offset_len(&text_units(txn, &t), units);
            t.remove_range(txn, 0, len);
        }
        Kind::Array => {
            let a = ArrayRef::from(b);
            let len = a.len(txn);
            a.remove_range(txn, 0, len);
        }
        Kind::Map => {
            let m = MapRef::from(b);
            m.clear(txn);
        }
        Kind::Xml => {
            let x = XmlFragmentRef::from(b);
            let len = x.len(txn);
            x.remove_range(txn, 0, len);
        }
    }
}

/// Makes text `cur` equal to `tgt`, formatting included.
fn text<T: ReadTxn, C: Text, X: Text>(
    txn: &mut TransactionMut,
    cur: &C,
    tt: &T,
    tgt: &X,
    units: OffsetKind,
) {
    let a = text_units(txn, cur);
    let b = text_units(tt, tgt);
    let (p, s) = common_ends(&a, &b, |x, y| x == y);
    if p == a.len() && p == b.len() {
        return;
    }
    let start = offset_len(&a[..p], units);
    let removed = offset_len(&a[p..a.len() - s], units);
    if removed > 0 {
        cur.remove_range(txn, start, removed);
    }
    let mut at = start;
    let mut rest = &b[p..b.len() - s];
    while let Some(first) = rest.first() {
        let attrs: Attrs = first.attrs.as_deref().cloned().unwrap_or_default();
        match &first.piece {
            Piece::Embed(any) => {
                cur.insert_embed_with_attributes(txn, at, any.clone(), attrs);
                at += 1;
                rest = &rest[1..];
            }
            Piece::Char(_) => {
                // One insert per run of characters with the same formatting.
                let run = rest
                    .iter()
                    .take_while(|u| matches!(u.piece, Piece::Char(_)) && u.attrs == first.attrs)
                    .count();
                let chunk: String = rest[..run]
                    .iter()
                    .filter_map(|u: &Unit| match u.piece {
                        Piece::Char(c) => Some(c),
                        Piece::Embed(_) => None,
                    })
                    .collect();
                cur.insert_with_attributes(txn, at, &chunk, attrs);
                at += offset_len(&rest[..run], units);
                rest = &rest[run..];
            }
        }
    }
}

/// Makes array `cur` equal to `tgt`.
fn array<T: ReadTxn>(
    txn: &mut TransactionMut,
    cur: &ArrayRef,
    tt: &T,
    tgt: &ArrayRef,
    units: OffsetKind,
) {
    let a: Vec<Value> = cur.iter(txn).map(|v| out_json(txn, &v)).collect();
    let b: Vec<Value> = tgt.iter(tt).map(|v| out_json(tt, &v)).collect();
    let (p, s) = common_ends(&a, &b, |x, y| x == y);
    let (removed, inserted) = (a.len() - p - s, b.len() - p - s);
    if removed == inserted {
        for i in (p..p + removed).map(|i| i as u32) {
            let (Some(c), Some(t)) = (cur.get(txn, i), tgt.get(tt, i)) else {
                continue;
            };
            if !value(txn, &c, tt, &t, units) {
                cur.remove(txn, i);
                cur.insert(txn, i, t.as_prelim(tt));
            }
        }
        return;
    }
    cur.remove_range(txn, p as u32, removed as u32);
    for j in 0..inserted {
        if let Some(t) = tgt.get(tt, (p + j) as u32) {
            cur.insert(txn, (p + j) as u32, t.as_prelim(tt));
        }
    }
}

/// Makes map `cur` equal to `tgt`, key by key.
fn map<T: ReadTxn>(
    txn: &mut TransactionMut,
    cur: &MapRef,
    tt: &T,
    tgt: &MapRef,
    units: OffsetKind,
) {
    let gone: Vec<String> = cur
        .keys(txn)
        .filter(|k| tgt.get(tt, k).is_none())
        .map(str::to_string)
        .collect();
    for k in gone {
        cur.remove(txn, &k);
    }
    let wanted: Vec<(String, Out)> = tgt.iter(tt).map(|(k, v)| (k.to_string(), v)).collect();
    for (k, t) in wanted {
        match cur.get(txn, &k) {
            None => {
                cur.insert(txn, k.as_str(), t.as_prelim(tt));
            }
            Some(c) => {
                if !value(txn, &c, tt, &t, units) {
                    cur.insert(txn, k.as_str(), t.as_prelim(tt));
                }
            }
        }
    }
}

/// Reconciles a nested value in place where both sides are the same kind of
/// shared type; returns `false` when it must be replaced instead.
fn value<T: ReadTxn>(
    txn: &mut TransactionMut,
    c: &Out,
    tt: &T,
    t: &Out,
    units: OffsetKind,
) -> bool {
    if out_json(txn, c) == out_json(tt, t) {
        return true;
    }
    match (c, t) {
        (Out::YMap(c), Out::YMap(t)) => map(txn, c, tt, t, units),
        (Out::YArray(c), Out::YArray(t)) => array(txn, c, tt, t, units),
        (Out::YText(c), Out::YText(t)) => text(txn, c, tt, t, units),
        (Out::YXmlText(c), Out::YXmlText(t)) => text(txn, c, tt, t, units),
        (Out::YXmlElement(c), Out::YXmlElement(t)) if c.tag() == t.tag() => {
            element(txn, c, tt, t, units)
        }
        (Out::YXmlFragment(c), Out::YXmlFragment(t)) => children(txn, c, tt, t, units),
        _ => return false,
    }
    true
}

/// Makes an element's attributes and children equal to the target's.
fn element<T: ReadTxn>(
    txn: &mut TransactionMut,
    cur: &XmlElementRef,
    tt: &T,
    tgt: &XmlElementRef,
    units: OffsetKind,
) {
    let wanted: HashMap<Arc<str>, Out> =
        tgt.attributes(tt).map(|(k, v)| (Arc::from(k), v)).collect();
    let gone: Vec<String> = cur
        .attributes(txn)
        .filter(|(k, _)| !wanted.contains_key(*k))
        .map(|(k, _)| k.to_string())
        .collect();
    for k in gone {
        cur.remove_attribute(txn, &k);
    }
    for (k, t) in wanted {
        let same = cur
            .get_attribute(txn, &k)
            .is_some_and(|c| out_json(txn, &c) == out_json(tt, &t));
        if !same {
            cur.insert_attribute(txn, k, t.as_prelim(tt));
        }
    }
    children(txn, cur, tt, tgt, units);
}

/// Makes an XML node's children equal to the target's.
fn children<T: ReadTxn, C: XmlFragment, X: XmlFragment>(
    txn: &mut TransactionMut,
    cur: &C,
    tt: &T,
    tgt: &X,
    units: OffsetKind,
) {
    let xml = |txn: &dyn Fn(u32) -> Option<String>, len: u32| -> Vec<String> {
        (0..len).filter_map(txn).collect()
    };
    let a = xml(
        &|i| cur.get(txn, i).map(|n| xml_string(txn, &n)),
        cur.len(txn),
    );
    let b = xml(&|i| tgt.get(tt, i).map(|n| xml_string(tt, &n)), tgt.len(tt));
    let (p, s) = common_ends(&a, &b, |x, y| x == y);
    let (removed, inserted) = (a.len() - p - s, b.len() - p - s);
    if removed == inserted {
        for i in (p..p + removed).map(|i| i as u32) {
            let (Some(c), Some(t)) = (cur.get(txn, i), tgt.get(tt, i)) else {
                continue;
            };
            let done = match (&c, &t) {
                (XmlOut::Element(c), XmlOut::Element(t)) if c.tag() == t.tag() => {
                    element(txn, c, tt, t, units);
                    true
                }
                (XmlOut::Text(c), XmlOut::Text(t)) => {
                    text(txn, c, tt, t, units);
                    true
                }
                _ => false,
            };
            if !done {
                cur.remove_range(txn, i, 1);
                cur.insert(txn, i, xml_prelim(tt, &t));
            }
        }
        return;
    }
    cur.remove_range(txn, p as u32, removed as u32);
    for j in 0..inserted {
        if let Some(t) = tgt.get(tt, (p + j) as u32) {
            cur.insert(txn, (p + j) as u32, xml_prelim(tt, &t));
        }
    }
}

/// A deep copy of an XML node, ready to insert.
fn xml_prelim<T: ReadTxn>(tt: &T, node: &XmlOut) -> XmlIn {
    match node {
        XmlOut::Element(e) => XmlIn::Element(e.as_prelim(tt)),
        XmlOut::Fragment(f) => XmlIn::Fragment(f.as_prelim(tt)),
        XmlOut::Text(t) => XmlIn::Text(t.as_prelim(tt)),
    }
}
