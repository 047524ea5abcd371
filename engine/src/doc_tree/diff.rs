//! What changed between two states of a document, root by root: texts,
//! arrays and XML fragments as the one range that differs between them
//! (common start and end kept), maps key by key, recursing into nested maps.

use serde_json::Value;
use yrs::types::xml::XmlOut;
use yrs::{Array, ArrayRef, TextRef};
use yrs::{Doc, GetString, Map, MapRef, Out, ReadTxn, Transact, XmlFragment, XmlFragmentRef};

use super::units::{common_ends, plain, text_units};
use super::{Change, ChangeKind, Kind, branch_json, kind_of, out_json, root, root_names};

/// What changed from `old` to `new`, ordered by root and path.
pub fn diff(old: &Doc, new: &Doc) -> Vec<Change> {
    let (ot, nt) = (old.transact(), new.transact());
    let mut names = root_names(&ot);
    names.extend(root_names(&nt));
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let ob = root(&ot, &name);
        let nb = root(&nt, &name);
        let ok = ob.map_or(Kind::Empty, |b| kind_of(&ot, b));
        let nk = nb.map_or(Kind::Empty, |b| kind_of(&nt, b));
        let at = |kind| Change {
            root: name.clone(),
            path: String::new(),
            kind,
        };
        match (ob, nb, ok, nk) {
            (_, _, Kind::Empty, Kind::Empty) => {}
            (_, Some(nb), Kind::Empty, k) => out.push(at(ChangeKind::Added {
                value: branch_json(&nt, nb, k),
            })),
            (Some(ob), _, k, Kind::Empty) => out.push(at(ChangeKind::Removed {
                value: branch_json(&ot, ob, k),
            })),
            (Some(ob), Some(nb), a, b) if a != b => out.push(at(ChangeKind::Changed {
                from: branch_json(&ot, ob, a),
                to: branch_json(&nt, nb, b),
            })),
            (Some(ob), Some(nb), Kind::Text, _) => {
                let a = text_units(&ot, &TextRef::from(ob));
                let b = text_units(&nt, &TextRef::from(nb));
                let (p, s) = common_ends(&a, &b, |x, y| x == y);
                if p != a.len() || p != b.len() {
                    out.push(at(range(
                        p,
                        a.len() - p - s,
                        b.len() - p - s,
                        Value::String(plain(&a[p..a.len() - s])),
                        Value::String(plain(&b[p..b.len() - s])),
                    )));
                }
            }
            (Some(ob), Some(nb), Kind::Array, _) => {
                let a = items(&ot, &ArrayRef::from(ob));
                let b = items(&nt, &ArrayRef::from(nb));
                seq_change(&a, &b, &mut out, at);
            }
            (Some(ob), Some(nb), Kind::Xml, _) => {
                let a = xml_children(&ot, &XmlFragmentRef::from(ob));
                let b = xml_children(&nt, &XmlFragmentRef::from(nb));
                seq_change(&a, &b, &mut out, at);
            }
            (Some(ob), Some(nb), Kind::Map, _) => {
                let (om, nm) = (MapRef::from(ob), MapRef::from(nb));
                map_changes(&ot, &om, &nt, &nm, &name, "", &mut out);
            }
            _ => {}
        }
    }
    out
}

fn range(start: usize, removed: usize, inserted: usize, before: Value, after: Value) -> ChangeKind {
    ChangeKind::Range {
        start: start as u64,
        removed: removed as u64,
        inserted: inserted as u64,
        before,
        after,
    }
}

/// The one range where two sequences of JSON values differ, if any.
fn seq_change(a: &[Value], b: &[Value], out: &mut Vec<Change>, at: impl Fn(ChangeKind) -> Change) {
    let (p, s) = common_ends(a, b, |x, y| x == y);
    if p != a.len() || p != b.len() {
        out.push(at(range(
            p,
            a.len() - p - s,
            b.len() - p - s,
            Value::Array(a[p..a.len() - s].to_vec()),
            Value::Array(b[p..b.len() - s].to_vec()),
        )));
    }
}

fn items<T: ReadTxn>(txn: &T, array: &ArrayRef) -> Vec<Value> {
    array.iter(txn).map(|v| out_json(txn, &v)).collect()
}

/// Each child node as its XML text.
fn xml_children<T: ReadTxn>(txn: &T, xml: &XmlFragmentRef) -> Vec<Value> {
    (0..xml.len(txn))
        .filter_map(|i| xml.get(txn, i))
        .map(|n| Value::String(xml_string(txn, &n)))
        .collect()
}

pub(crate) fn xml_string<T: ReadTxn>(txn: &T, node: &XmlOut) -> String {
    match node {
        XmlOut::Element(e) => e.get_string(txn),
        XmlOut::Fragment(f) => f.get_string(txn),
        XmlOut::Text(t) => t.get_string(txn),
    }
}

/// Key-by-key changes of two maps, recursing where both sides hold a map.
fn map_changes<A: ReadTxn, B: ReadTxn>(
    ot: &A,
    om: &MapRef,
    nt: &B,
    nm: &MapRef,
    root: &str,
    path: &str,
    out: &mut Vec<Change>,
) {
    let mut keys: Vec<String> = om.keys(ot).map(str::to_string).collect();
    keys.extend(nm.keys(nt).map(str::to_string));
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let here = format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"));
        let change = |kind| Change {
            root: root.to_string(),
            path: here.clone(),
            kind,
        };
        match (om.get(ot, &key), nm.get(nt, &key)) {
            (None, Some(v)) => out.push(change(ChangeKind::Added {
                value: out_json(nt, &v),
            })),
            (Some(v), None) => out.push(change(ChangeKind::Removed {
                value: out_json(ot, &v),
            })),
            (Some(Out::YMap(a)), Some(Out::YMap(b))) => {
                map_changes(ot, &a, nt, &b, root, &here, out)
            }
            (Some(a), Some(b)) => {
                let (from, to) = (out_json(ot, &a), out_json(nt, &b));
                if from != to {
                    out.push(change(ChangeKind::Changed { from, to }));
                }
            }
            (None, None) => {}
        }
    }
}
