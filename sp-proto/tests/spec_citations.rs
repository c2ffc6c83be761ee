//! Keeps the specification documents and the test vectors from drifting apart.
//!
//! * Every citation `[vector: <id>]` in a `spec/*.md` document names a vector that exists
//!   in `spec/vectors/*.json`.
//! * Every vector is cited by at least one document.
//! * The index `spec/README.md` links every specification document, and every document it
//!   links exists.
//!
//! The citation syntax is defined in `spec/README.md` ("Conventions").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec");
const CITE: &str = "[vector: ";

/// The `spec/*.md` documents (not the vectors' own README), by file name.
fn documents() -> BTreeMap<String, String> {
    std::fs::read_dir(SPEC)
        .expect("spec/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| {
            let name = file_name(&p);
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        })
        .collect()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .expect("a file name")
        .to_string_lossy()
        .into_owned()
}

/// Every vector id, with the file that defines it.
fn vector_ids() -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    let dir = PathBuf::from(SPEC).join("vectors");
    for entry in std::fs::read_dir(&dir).expect("spec/vectors exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let json: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let vectors = json["vectors"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no vectors array"));
        for v in vectors {
            let id = v["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: a vector without an id"));
            let previous = ids.insert(id.to_owned(), name.clone());
            assert!(previous.is_none(), "vector id {id} defined twice");
        }
    }
    ids
}

/// The citations in `text`, with their line numbers. A citation is `[vector: ` followed by
/// an id (letters, digits, `.`, `-`, `_`) and `]`; anything else after `[vector: ` is an
/// error, so a typo cannot hide a citation from the check. Code (fenced blocks and inline
/// code spans) is not searched, so the syntax can be shown without citing anything.
fn citations(doc: &str, text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_fence = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Even-numbered pieces between backticks are prose, odd-numbered ones code spans.
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let mut rest = prose.as_str();
        while let Some(at) = rest.find(CITE) {
            let after = &rest[at + CITE.len()..];
            let end = after
                .find(']')
                .unwrap_or_else(|| panic!("{doc}:{}: unterminated citation", n + 1));
            let id = &after[..end];
            assert!(
                !id.is_empty()
                    && id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
                "{doc}:{}: malformed citation {:?}",
                n + 1,
                &rest[at..at + CITE.len() + end + 1]
            );
            out.push((n + 1, id.to_owned()));
            rest = &after[end + 1..];
        }
    }
    out
}

/// The relative Markdown links `](target)` of `text` that point at `.md` files.
fn md_links(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split('#').next().unwrap_or_default();
        if target.ends_with(".md") && !target.contains("://") {
            out.insert(target.to_owned());
        }
        rest = &after[end + 1..];
    }
    out
}

#[test]
fn every_citation_names_an_existing_vector() {
    let ids = vector_ids();
    let mut unknown = Vec::new();
    for (doc, text) in documents() {
        for (line, id) in citations(&doc, &text) {
            if !ids.contains_key(&id) {
                unknown.push(format!("{doc}:{line}: {id}"));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "citations of unknown vectors: {unknown:#?}"
    );
}

#[test]
fn every_vector_is_cited() {
    let cited: BTreeSet<String> = documents()
        .iter()
        .flat_map(|(doc, text)| citations(doc, text))
        .map(|(_, id)| id)
        .collect();
    let uncited: Vec<String> = vector_ids()
        .into_iter()
        .filter(|(id, _)| !cited.contains(id))
        .map(|(id, file)| format!("{file}: {id}"))
        .collect();
    assert!(
        uncited.is_empty(),
        "vectors no document cites: {uncited:#?}"
    );
}

#[test]
fn the_index_lists_every_document_and_only_existing_ones() {
    let docs = documents();
    let index = docs.get("README.md").expect("spec/README.md is the index");
    let linked = md_links(index);
    for target in &linked {
        assert!(
            PathBuf::from(SPEC).join(target).is_file(),
            "the index links {target}, which does not exist"
        );
    }
    for name in docs.keys().filter(|n| *n != "README.md") {
        assert!(linked.contains(name), "spec/{name} is not in the index");
    }
    assert!(docs.len() >= 12, "only {} spec documents", docs.len());
}

#[test]
fn the_citation_parser_is_strict() {
    let found = citations("t", "a [vector: tcp.req-hello] b [vector: ws.err-text]\n");
    assert_eq!(
        found,
        [
            (1, "tcp.req-hello".to_owned()),
            (1, "ws.err-text".to_owned())
        ]
    );
    let bad = std::panic::catch_unwind(|| citations("t", "[vector: two ids]"));
    assert!(bad.is_err(), "a malformed citation must fail");
    let code = "`[vector: <id>]` and\n```text\n[vector: x.y]\n```\n[vector: a.b]";
    assert_eq!(
        citations("t", code),
        [(5, "a.b".to_owned())],
        "code is not cited"
    );
    let links = md_links("[x](sp-tcp.md) [y](https://e.org/a.md) [z](sp-ipc.md#framing)");
    assert_eq!(
        links,
        BTreeSet::from(["sp-tcp.md".to_owned(), "sp-ipc.md".to_owned()])
    );
}
