//! Numbering: the last number each unit gave its risks, items and outbox messages. Counters
//! live in the views' bookkeeping tree, so a rebuild that clears the views clears them too,
//! and applying the entries again raises them back to where they were.

use crate::domain::item::{ItemId, ItemKind};
use crate::store::{read_u64, Batch, Read, Store, StoreError};

/// The tree counters share with the views' bookkeeping (`view_meta`).
pub(crate) const TREE: &str = "view_meta";

/// The counter at `key`: 0 before its first use.
pub(crate) fn last(src: &(impl Read + ?Sized), key: &[u8]) -> Result<u64, StoreError> {
    Ok(read_u64(src.value(TREE, key)?))
}

/// Raises the counter at `key` to `n` (numbers seen out of order never lower it).
pub(crate) fn raise(
    store: &dyn Store,
    batch: &mut Batch,
    key: Vec<u8>,
    n: u64,
) -> Result<(), StoreError> {
    if n > last(&batch.over(store), &key)? {
        batch.insert(TREE, key, n.to_be_bytes().to_vec());
    }
    Ok(())
}

/// Takes the next number at `key` and stages it.
pub(crate) fn take(store: &dyn Store, batch: &mut Batch, key: Vec<u8>) -> Result<u64, StoreError> {
    let n = last(&batch.over(store), &key)? + 1;
    batch.insert(TREE, key, n.to_be_bytes().to_vec());
    Ok(n)
}

fn item_key(unit: &str, kind: ItemKind) -> Vec<u8> {
    format!("next_item/{unit}/{}", kind.letter()).into_bytes()
}

/// The id the next item of `kind` written by `unit` gets (`510104-a4`).
pub(crate) fn next_item_id(
    src: &(impl Read + ?Sized),
    unit: &str,
    kind: ItemKind,
) -> Result<String, StoreError> {
    let n = last(src, &item_key(unit, kind))? + 1;
    Ok(format!("{unit}-{}{n}", kind.letter()))
}

/// Records that the item `id` exists, so [`next_item_id`] moves past it.
pub(crate) fn raise_item(
    store: &dyn Store,
    batch: &mut Batch,
    id: &ItemId<'_>,
) -> Result<(), StoreError> {
    raise(store, batch, item_key(id.unit, id.kind), id.number)
}
