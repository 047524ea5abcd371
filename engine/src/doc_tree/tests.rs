//! Unit tests: documents built by one client, read back from their stored
//! update (so root types are unknown, as on the server).

use serde_json::json;
use yrs::types::Attrs;
use yrs::types::xml::XmlElementPrelim;
use yrs::updates::decoder::Decode;
use yrs::{
    Any, Array, Doc, Map, MapPrelim, ReadTxn, StateVector, Text, Transact, Update, XmlFragment,
    XmlTextPrelim,
};

use super::*;

/// The state of `doc` as the server would hold it: a fresh doc from its update.
fn stored(doc: &Doc) -> Doc {
    let state = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    doc_from_v1(&state).expect("decodes")
}

fn apply(doc: &Doc, update: &[u8]) {
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).unwrap())
        .unwrap();
}

fn sync(a: &Doc, b: &Doc) {
    let sb = b.transact().state_vector();
    let ua = a.transact().encode_diff_v1(&sb);
    let sa = a.transact().state_vector();
    let ub = b.transact().encode_diff_v1(&sa);
    apply(b, &ua);
    apply(a, &ub);
}

/// A shop document: a title text, an inventory map of row maps, a tag array,
/// and a rich-text XML fragment.
fn shop() -> Doc {
    let doc = Doc::new();
    let title = doc.get_or_insert_text("title");
    let items = doc.get_or_insert_map("items");
    let tags = doc.get_or_insert_array("tags");
    let body = doc.get_or_insert_xml_fragment("body");
    let mut txn = doc.transact_mut();
    title.insert(&mut txn, 0, "Price list ");
    let bold: Attrs = [("bold".into(), Any::Bool(true))].into_iter().collect();
    title.insert_with_attributes(&mut txn, 11, "2026", bold);
    let row = items.insert(&mut txn, "sku-1", MapPrelim::default());
    row.insert(&mut txn, "name", "Rice 5kg");
    row.insert(&mut txn, "price", 4500);
    let row = items.insert(&mut txn, "sku-2", MapPrelim::default());
    row.insert(&mut txn, "name", "Oil 1L");
    row.insert(&mut txn, "price", 1200);
    tags.insert_range(&mut txn, 0, ["food", "staples"]);
    let p = body.insert(&mut txn, 0, XmlElementPrelim::empty("paragraph"));
    p.insert(&mut txn, 0, XmlTextPrelim::new("Delivery on Mondays"));
    drop(txn);
    doc
}

/// Edits every root of a copy of `shop()`.
fn edit(doc: &Doc) {
    let title = doc.get_or_insert_text("title");
    let items = doc.get_or_insert_map("items");
    let tags = doc.get_or_insert_array("tags");
    let body = doc.get_or_insert_xml_fragment("body");
    let notes = doc.get_or_insert_text("notes");
    let mut txn = doc.transact_mut();
    title.remove_range(&mut txn, 0, 5);
    title.insert(&mut txn, 0, "Tarifs");
    if let Some(yrs::Out::YMap(row)) = items.get(&txn, "sku-1") {
        row.insert(&mut txn, "price", 4800);
    }
    items.remove(&mut txn, "sku-2");
    tags.push_back(&mut txn, "promo");
    body.insert(&mut txn, 1, XmlElementPrelim::empty("hr"));
    notes.insert(&mut txn, 0, "call the supplier");
}

#[test]
fn json_of_stored_roots_infers_their_types() {
    let json = to_json(&stored(&shop()));
    assert_eq!(json["title"], "Price list 2026");
    assert_eq!(
        json["items"]["sku-1"],
        json!({"name": "Rice 5kg", "price": 4500})
    );
    assert_eq!(json["tags"], json!(["food", "staples"]));
    assert_eq!(json["body"], "<paragraph>Delivery on Mondays</paragraph>");
}

#[test]
fn diff_names_each_changed_root_range_and_key() {
    let old = stored(&shop());
    let new = stored(&old);
    edit(&new);
    let changes = diff(&old, &stored(&new));
    let at = |root: &str, path: &str| {
        changes
            .iter()
            .find(|c| c.root == root && c.path == path)
            .unwrap_or_else(|| panic!("no change at {root}{path}: {changes:#?}"))
            .kind
            .clone()
    };
    assert_eq!(
        at("title", ""),
        ChangeKind::Range {
            start: 0,
            removed: 5,
            inserted: 6,
            before: json!("Price"),
            after: json!("Tarifs"),
        }
    );
    assert_eq!(
        at("items", "/sku-1/price"),
        ChangeKind::Changed {
            from: json!(4500),
            to: json!(4800)
        }
    );
    assert!(matches!(at("items", "/sku-2"), ChangeKind::Removed { .. }));
    assert!(matches!(
        at("tags", ""),
        ChangeKind::Range {
            start: 2,
            removed: 0,
            inserted: 1,
            ..
        }
    ));
    assert!(matches!(
        at("body", ""),
        ChangeKind::Range {
            start: 1,
            inserted: 1,
            ..
        }
    ));
    assert_eq!(
        at("notes", ""),
        ChangeKind::Added {
            value: json!("call the supplier")
        }
    );
    assert_eq!(changes.len(), 6, "{changes:#?}");
    assert!(diff(&old, &stored(&old)).is_empty());
}

#[test]
fn restore_brings_back_the_target_content_formatting_included() {
    let version = stored(&shop());
    let live = stored(&version);
    edit(&live);
    let update = restore_update(&live, &version).expect("contents differ");
    apply(&live, &update);
    assert_eq!(to_json(&live), to_json(&version));
    assert!(
        diff(&version, &live).is_empty(),
        "{:#?}",
        diff(&version, &live)
    );
    // Already equal: nothing to do.
    assert!(restore_update(&live, &version).is_none());
}

#[test]
fn a_restore_merges_with_a_concurrent_edit_and_replicas_converge() {
    let version = stored(&shop());
    let a = stored(&version);
    edit(&a);
    let b = stored(&a);
    // b edits a part the restore leaves alone (sku-1's name) while a restores.
    let items = b.get_or_insert_map("items");
    {
        let mut txn = b.transact_mut();
        if let Some(yrs::Out::YMap(row)) = items.get(&txn, "sku-1") {
            row.insert(&mut txn, "name", "Rice 5kg (bag)");
        }
    }
    let update = restore_update(&a, &version).expect("contents differ");
    apply(&a, &update);
    sync(&a, &b);
    let (ja, jb) = (to_json(&a), to_json(&b));
    assert_eq!(ja, jb, "replicas converge");
    assert_eq!(ja["items"]["sku-1"]["name"], "Rice 5kg (bag)");
    assert_eq!(ja["items"]["sku-1"]["price"], 4500);
    assert_eq!(ja["title"], "Price list 2026");
    assert!(ja.get("notes").is_none());
    // Restored rows are the same shared maps as before: only the values changed.
    let items = a.get_or_insert_map("items");
    let txn = a.transact();
    assert!(matches!(items.get(&txn, "sku-1"), Some(yrs::Out::YMap(_))));
}

#[test]
fn a_version_that_lacks_a_root_clears_it_and_an_empty_doc_restores_to_empty() {
    let empty = Doc::new();
    let live = stored(&shop());
    let update = restore_update(&live, &empty).expect("something to clear");
    apply(&live, &update);
    assert_eq!(to_json(&live), json!({}));
}

#[test]
fn bad_bytes_are_an_error_not_a_panic() {
    assert!(doc_from_v1(&[0xff, 0xff, 0xff]).is_err());
    assert!(doc_from_v1(&[]).is_err());
}
