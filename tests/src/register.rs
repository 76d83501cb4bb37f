//! Reading a node's risk register through the CLI, for before/after comparisons.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::node::TestNode;
use crate::pki::TestPki;

/// The staff member most tests act as.
pub const ZHANG: &str = "staff-510104-zhang";

/// A CA for province 51 with `staff-510104-zhang`, and county 510104's node running.
pub fn county_with_zhang() -> (TestPki, TestNode) {
    let pki = TestPki::new("51");
    pki.issue_staff("510104", "zhang");
    let node = TestNode::start(&pki, "510104");
    (pki, node)
}

/// `fenghuo risk <args> --json` as `stem`; asserts success.
pub fn risk_as(node: &TestNode, pki: &TestPki, stem: &str, args: &[&str]) -> Value {
    node.cli(pki, stem)
        .arg("risk")
        .args(args)
        .arg("--json")
        .run()
        .ok()
        .json()
}

/// `risk list --all --json` as `stem`: every risk item, in id order.
pub fn list_all(node: &TestNode, pki: &TestPki, stem: &str) -> Value {
    node.cli(pki, stem)
        .args(["risk", "list", "--all", "--json"])
        .run()
        .ok()
        .json()
}

/// `risk show ID --json` as `stem`.
pub fn show(node: &TestNode, pki: &TestPki, stem: &str, id: &str) -> Value {
    node.cli(pki, stem)
        .args(["risk", "show", id, "--json"])
        .run()
        .ok()
        .json()
}

/// The `id` of every item of a JSON array of risks.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array of risks, got {list}"))
        .iter()
        .map(|r| {
            r["id"]
                .as_str()
                .unwrap_or_else(|| panic!("a risk without an id: {r}"))
                .to_owned()
        })
        .collect()
}

/// What a reader sees of the register: the whole list, and some items through `risk show`.
/// Take one before a command that must not write, and assert it unchanged after.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `risk list --all --json`.
    pub list: Value,
    /// `risk show ID --json` by id, for the ids asked for.
    pub shown: BTreeMap<String, Value>,
}

impl Snapshot {
    /// Reads the register as `stem` (who must be allowed to read it), showing each of `ids`.
    pub fn take(node: &TestNode, pki: &TestPki, stem: &str, ids: &[&str]) -> Self {
        Self {
            list: list_all(node, pki, stem),
            shown: ids
                .iter()
                .map(|id| ((*id).to_owned(), show(node, pki, stem, id)))
                .collect(),
        }
    }

    /// Asserts the list and every shown item still read as they did: nothing was written.
    #[track_caller]
    pub fn assert_unchanged(&self, node: &TestNode, pki: &TestPki, stem: &str, after: &str) {
        let ids: Vec<&str> = self.shown.keys().map(String::as_str).collect();
        self.assert_unchanged_for(node, pki, stem, &ids, after);
    }

    /// Like [`Snapshot::assert_unchanged`], re-reading only the list and `ids` (those of
    /// `ids` this snapshot did not show are only checked through the list).
    #[track_caller]
    pub fn assert_unchanged_for(
        &self,
        node: &TestNode,
        pki: &TestPki,
        stem: &str,
        ids: &[&str],
        after: &str,
    ) {
        let list = list_all(node, pki, stem);
        assert!(
            list == self.list,
            "`risk list --all` changed after {after}:\nbefore: {:#}\nafter: {list:#}",
            self.list
        );
        for id in ids {
            if let Some(before) = self.shown.get(*id) {
                let now = show(node, pki, stem, id);
                assert!(
                    now == *before,
                    "`risk show {id}` changed after {after}:\nbefore: {before:#}\nafter: {now:#}"
                );
            }
        }
    }
}
