//! The edits every writer sends: single-character appends made by a real Yrs
//! document before a run starts, one v1 update each, so generating them costs the
//! measured window nothing and each edit advances its writer's clock by one.

use yrs::{Doc, GetString, Options, Text, Transact};

/// `n` single-character appends by Yjs client `client`, each as its own v1
/// update, and the text they make.
pub fn appends(client: u64, n: usize) -> (Vec<Vec<u8>>, String) {
    let doc = Doc::with_options(Options {
        client_id: yrs::block::ClientID::new(client),
        ..Options::default()
    });
    let text = doc.get_or_insert_text("t");
    let mut updates = Vec::with_capacity(n);
    for i in 0..n {
        let ch = char::from(b'a' + (i % 26) as u8).to_string();
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, i as u32, &ch);
        updates.push(txn.encode_update_v1());
    }
    let s = text.get_string(&doc.transact());
    (updates, s)
}
