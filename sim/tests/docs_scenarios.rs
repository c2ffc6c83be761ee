//! `docs/simulation.md` lists every scenario file of `sim/scenarios/` in its table (one
//! row each, `| \`name.toml\` | ... |`), and names no file that is not there, so the
//! table cannot fall behind the folder.

use std::collections::BTreeSet;
use std::path::Path;

/// The `.toml` files the table's rows name (a row starts with `` | `name.toml` ``).
fn table_rows(doc: &str) -> BTreeSet<String> {
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once("` |"))
        .map(|(name, _)| name)
        .filter(|name| name.ends_with(".toml"))
        .map(str::to_owned)
        .collect()
}

/// What is wrong between the table and the folder's files: files without a row, rows
/// without a file.
fn mismatches(doc: &str, files: &BTreeSet<String>) -> Vec<String> {
    let rows = table_rows(doc);
    let mut wrong: Vec<String> = files
        .difference(&rows)
        .map(|f| format!("{f} has no row in docs/simulation.md"))
        .collect();
    wrong.extend(
        rows.difference(files)
            .map(|r| format!("docs/simulation.md has a row for {r}, which sim/scenarios/ lacks")),
    );
    wrong
}

#[test]
fn every_scenario_file_has_one_row_and_every_row_a_file() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("../docs/simulation.md")).unwrap();
    let files: BTreeSet<String> = std::fs::read_dir(root.join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    assert!(!files.is_empty(), "no scenario files found");
    let wrong = mismatches(&doc, &files);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Planted: a file the table lacks and a row without a file are both reported.
#[test]
fn a_missing_row_and_a_stale_row_are_reported() {
    let doc = "| file | what |\n|---|---|\n| `a.toml` | A. |\n| `gone.toml` | Old. |\n";
    let files: BTreeSet<String> = ["a.toml", "new.toml"].map(str::to_owned).into();
    assert_eq!(
        mismatches(doc, &files),
        [
            "new.toml has no row in docs/simulation.md",
            "docs/simulation.md has a row for gone.toml, which sim/scenarios/ lacks",
        ]
    );
}
