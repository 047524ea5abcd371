//! Texts as sequences of units (one character or embed, with its formatting),
//! and the common-ends comparison that diff and restore both build on.

use yrs::types::text::YChange;
use yrs::types::{Attrs, ToJson};
use yrs::{Any, OffsetKind, Out, ReadTxn, Text};

/// One character or embed of a text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Char(char),
    Embed(Any),
}

/// A piece with the formatting it carries (`None` when unformatted).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Unit {
    pub piece: Piece,
    pub attrs: Option<Box<Attrs>>,
}

impl Unit {
    /// Its length in the document's index units.
    pub fn len(&self, kind: OffsetKind) -> u32 {
        match (&self.piece, kind) {
            (Piece::Char(c), OffsetKind::Bytes) => c.len_utf8() as u32,
            (Piece::Char(c), OffsetKind::Utf16) => c.len_utf16() as u32,
            (Piece::Embed(_), _) => 1,
        }
    }
}

/// The units of a text, in order.
pub(crate) fn text_units<T: ReadTxn, X: Text>(txn: &T, text: &X) -> Vec<Unit> {
    let mut units = Vec::new();
    for chunk in text.diff(txn, YChange::identity) {
        let attrs = chunk.attributes.filter(|a| !a.is_empty());
        match chunk.insert {
            Out::Any(Any::String(s)) => units.extend(s.chars().map(|c| Unit {
                piece: Piece::Char(c),
                attrs: attrs.clone(),
            })),
            Out::Any(any) => units.push(Unit {
                piece: Piece::Embed(any),
                attrs,
            }),
            other => units.push(Unit {
                piece: Piece::Embed(other.to_json(txn)),
                attrs,
            }),
        }
    }
    units
}

/// The characters of `units` as a string (embeds left out).
pub(crate) fn plain(units: &[Unit]) -> String {
    units
        .iter()
        .filter_map(|u| match u.piece {
            Piece::Char(c) => Some(c),
            Piece::Embed(_) => None,
        })
        .collect()
}

/// Sum of the units' lengths in `kind`.
pub(crate) fn offset_len(units: &[Unit], kind: OffsetKind) -> u32 {
    units.iter().map(|u| u.len(kind)).sum()
}

/// How many items `a` and `b` share at the start, and then at the end (the
/// two never overlap).
pub(crate) fn common_ends<T, U>(a: &[T], b: &[U], eq: impl Fn(&T, &U) -> bool) -> (usize, usize) {
    let prefix = a.iter().zip(b).take_while(|(x, y)| eq(x, y)).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| eq(x, y))
        .count();
    (prefix, suffix)
}
