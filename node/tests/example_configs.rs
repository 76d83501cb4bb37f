//! Every example configuration shipped in `deploy/` and `docs/` parses and passes the same
//! checks a node runs at start, and the shipped grading standard is valid.

#![allow(clippy::unwrap_used)]
use std::path::{Path, PathBuf};

use fenghuo_node::config::NodeConfig;
use fenghuo_node::domain::GradingStandard;

fn tomls(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            tomls(&path, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

#[test]
fn shipped_configs_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    tomls(&root.join("deploy"), &mut files);
    tomls(&root.join("docs"), &mut files);
    let mut configs = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if f.file_name().is_some_and(|n| n == "grading-standard.toml") {
            GradingStandard::from_toml(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        } else {
            NodeConfig::load(f).unwrap_or_else(|e| panic!("{e}"));
            configs += 1;
        }
    }
    assert!(
        configs >= 2,
        "expected the example configs in deploy/config, found {files:?}"
    );
}
