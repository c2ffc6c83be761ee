//! `sim::run_folder`: a folder of scenarios in one call, on both layers.

use std::path::PathBuf;

use sim::scenario::Layer;
use sim::{run_folder, Folder, FolderError};

mod common;

/// [`common::PUSH_ONE`] with two seeds of its own.
fn push() -> String {
    format!("seeds = [4, 5]\n{}", common::PUSH_ONE)
}

/// A fresh folder holding `files` (name, text).
fn folder(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sim-folder-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (f, text) in files {
        std::fs::write(dir.join(f), text).expect("write");
    }
    dir
}

#[test]
fn every_file_every_seed_both_layers() {
    let oneway = push().replace(
        "[[step]]",
        "[[step]]\nat_ms = 50\ndo = \"partition\"\na = \"srv\"\nb = \"cli\"\noneway = true\n\n[[step]]",
    );
    let dir = folder(
        "ok",
        &[
            ("a.toml", &push()),
            ("b.toml", &oneway),
            ("notes.txt", "not a scenario"),
        ],
    );
    let r = run_folder(&dir).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.passed(), "{r}");
    assert_eq!(r.files.len(), 2);
    // a: seeds 4 and 5 on both layers; b: both seeds on layer 1, refused on layer 2.
    let runs: Vec<(String, Layer, u64)> = r
        .runs
        .iter()
        .map(|x| (x.scenario.clone(), x.layer, x.seed))
        .collect();
    let want = [
        ("a", Layer::Proto, 4),
        ("a", Layer::Proto, 5),
        ("a", Layer::Turmoil, 4),
        ("a", Layer::Turmoil, 5),
        ("b", Layer::Proto, 4),
        ("b", Layer::Proto, 5),
    ]
    .map(|(s, l, n)| (s.to_owned(), l, n));
    assert_eq!(runs, want);
    assert_eq!(r.refused.len(), 1);
    assert_eq!(r.refused[0].scenario, "b");
    assert!(r.to_string().contains("b: unsupported on layer 2"), "{r}");

    let only = Folder::new(&dir)
        .only(Layer::Turmoil)
        .max_seeds(Layer::Turmoil, 1)
        .run()
        .expect("runs");
    assert_eq!(only.runs.len(), 1);
    assert_eq!((only.runs[0].layer, only.runs[0].seed), (Layer::Turmoil, 4));
}

#[test]
fn failures_are_reported_with_their_seed() {
    let dir = folder(
        "fail",
        &[("c.toml", &push().replace("count = 1", "count = 2"))],
    );
    let r = Folder::new(&dir).only(Layer::Proto).run().expect("runs");
    assert!(!r.passed());
    assert_eq!(r.failures().len(), 2);
    assert!(r.to_string().contains("replay: sp-sim run"), "{r}");
}

#[test]
fn bad_folders_and_files_are_typed_errors() {
    let empty = folder("empty", &[]);
    assert!(matches!(run_folder(&empty), Err(FolderError::Empty(_))));
    assert!(matches!(
        run_folder(empty.join("missing")),
        Err(FolderError::Io { .. })
    ));
    let bad = push().replace("socket = \"cli.push\"", "socket = \"cli.psuh\"");
    let dir = folder("bad", &[("a.toml", &push()), ("d.toml", &bad)]);
    let Err(FolderError::Load(e)) = run_folder(&dir) else {
        panic!("d.toml must be refused")
    };
    let line = bad.lines().position(|l| l.contains("psuh")).unwrap() + 1;
    assert_eq!(e.location.as_ref().map(|l| l.line), Some(line), "{e}");
    assert!(e.to_string().contains("d.toml"), "{e}");
}
