//! Keeps the specification documents and the test vectors from drifting apart.
//!
//! * Every citation `[vector: <id>]` in a `spec/*.md` document names a vector that exists
//!   in `spec/vectors/*.json`.
//! * Every vector is cited by at least one document.
//! * The index `spec/README.md` links every specification document, and every document it
//!   links exists.
//! * Every byte example in a document (a line of a fenced `hex` block, a fenced `http`
//!   block, or an inline code span in byte notation) equals a byte field of the vector it
//!   cites; fenced `text` blocks (diagrams) hold no bytes, and every fence is tagged.
//!
//! The citation syntax and the byte-example rule are defined in `spec/README.md`
//! ("Conventions").

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

// ---------------------------------------------------------------- byte examples
//
// The rule (spec/README.md, "Byte examples"):
//
// * A fenced block tagged `hex` is a byte example, one per non-empty line: an optional
//   direction label (a first word containing `→`), then the bytes as hex pairs, then a
//   free comment (which starts at the first word that is not a hex pair). The paragraph
//   right after the block begins with one citation per line, in the same order; each line
//   must equal a byte field of the vector its citation names.
// * A fenced block tagged `http` is one byte example: an HTTP head (each line ended by
//   CR LF, then the empty line) and, after an empty line in the block, a body. The first
//   citation of the paragraph after it names its vector.
// * A fenced block tagged `text` is a diagram; it must not contain two hex pairs in a row,
//   so that bytes cannot hide in it. Any other fence (or one without a tag) is an error.
// * Two hex pairs in a row in prose (outside code) are an error: bytes must be code.
// * An inline code span written wholly in byte notation (hex pairs and quoted ASCII text,
//   at least one hex pair) is a byte example. It is checked against the first citation that
//   follows it in its paragraph (in a table, in its row). A leading `...` makes it a suffix
//   of a byte field, a trailing `...` a prefix; otherwise it must equal one.

/// The fields of a vector that hold bytes (hex strings, or lists of them).
const BYTE_FIELDS: [&str; 10] = [
    "wire",
    "payload",
    "header",
    "body",
    "rest",
    "message",
    "topics",
    "mask_keys",
    "mask_key",
    "sent",
];

/// How an example's bytes relate to the vector's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Whole,
    Prefix,
    Suffix,
}

#[derive(Debug, PartialEq, Eq)]
struct Example {
    line: usize,
    bytes: Vec<u8>,
    part: Part,
    vector: String,
}

fn is_hex_pair(word: &str) -> bool {
    word.len() == 2 && word.bytes().all(|c| c.is_ascii_hexdigit())
}

fn hex_byte(word: &str) -> Result<u8, String> {
    if word.bytes().any(|c| c.is_ascii_uppercase()) {
        return Err(format!("{word:?} is not lowercase hex"));
    }
    u8::from_str_radix(word, 16).map_err(|e| format!("{word:?}: {e}"))
}

/// Parses a code span in byte notation; `None` when it is not byte notation (an identifier,
/// a quoted string alone, `0x70`...), `Some(Err)` when it is but is malformed.
fn byte_notation(span: &str) -> Option<Result<(Vec<u8>, Part), String>> {
    let mut words: Vec<Result<u8, String>> = Vec::new();
    let (mut lead, mut trail) = (false, false);
    let mut rest = span.trim();
    let mut any_pair = false;
    let mut first = true;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('"') {
            let end = after.find('"')?;
            words.extend(after[..end].bytes().map(Ok));
            rest = after[end + 1..].trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            let word = &rest[..end];
            rest = rest[end..].trim_start();
            if word == "..." && first {
                lead = true;
            } else if word == "..." && rest.is_empty() {
                trail = true;
            } else if is_hex_pair(word) {
                any_pair = true;
                words.push(hex_byte(word));
            } else {
                return None;
            }
        }
        first = false;
    }
    if !any_pair {
        return None;
    }
    let part = match (lead, trail) {
        (false, false) => Part::Whole,
        (false, true) => Part::Prefix,
        (true, false) => Part::Suffix,
        (true, true) => return Some(Err(format!("`{span}`: `...` on both sides"))),
    };
    Some(
        words
            .into_iter()
            .collect::<Result<_, _>>()
            .map(|b| (b, part)),
    )
}

/// The paragraph that follows line index `from` (blank lines skipped), as one string.
fn paragraph_after(lines: &[&str], from: usize) -> String {
    lines[from.min(lines.len())..]
        .iter()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The bytes an `http` block shows: the head's lines each ended by CR LF, the empty line
/// ending the head (added when the block has none), then the body's lines joined by LF.
fn http_bytes(block: &[&str]) -> Vec<u8> {
    let split = block.iter().position(|l| l.is_empty());
    let (head, body) = match split {
        Some(at) => (&block[..at], &block[at + 1..]),
        None => (block, &[][..]),
    };
    let mut out = String::new();
    for line in head {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body.join("\n"));
    out.into_bytes()
}

/// The ids cited at the very start of `text`, separated by white space only.
fn leading_citations(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix(CITE) {
        let Some(end) = after.find(']') else { break };
        out.push(after[..end].to_owned());
        rest = after[end + 1..].trim_start();
    }
    out
}

/// The byte examples of one document, or the reasons it breaks the rule.
fn byte_examples(doc: &str, text: &str) -> (Vec<Example>, Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    let mut examples = Vec::new();
    let mut errors = Vec::new();
    // Prose units: paragraphs, except that each table row is a unit of its own.
    let mut unit: Vec<(usize, &str)> = Vec::new();
    let mut units: Vec<Vec<(usize, &str)>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(info) = line.trim_start().strip_prefix("```") else {
            if line.trim().is_empty() || line.trim_start().starts_with('|') {
                units.push(std::mem::take(&mut unit));
            }
            if !line.trim().is_empty() {
                unit.push((i + 1, line));
            }
            if line.trim_start().starts_with('|') {
                units.push(std::mem::take(&mut unit));
            }
            i += 1;
            continue;
        };
        units.push(std::mem::take(&mut unit));
        let open = i + 1;
        let info = info.trim();
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].trim_start().starts_with("```") {
            body.push((i + 1, lines[i]));
            i += 1;
        }
        i += 1; // the closing fence
        match info {
            "text" => {
                for (n, l) in &body {
                    let words: Vec<&str> = l.split_whitespace().collect();
                    if words
                        .windows(2)
                        .any(|w| is_hex_pair(w[0]) && is_hex_pair(w[1]))
                    {
                        errors.push(format!(
                            "{doc}:{n}: bytes in a `text` block (tag it `hex` and cite it)"
                        ));
                    }
                }
            }
            "http" => {
                let Some(id) = leading_citations(&paragraph_after(&lines, i))
                    .into_iter()
                    .next()
                else {
                    errors.push(format!(
                        "{doc}:{open}: an http block cites no vector after it"
                    ));
                    continue;
                };
                let bytes = http_bytes(&body.iter().map(|(_, l)| *l).collect::<Vec<_>>());
                examples.push(Example {
                    line: open,
                    bytes,
                    part: Part::Whole,
                    vector: id,
                });
            }
            "hex" => {
                let ids = leading_citations(&paragraph_after(&lines, i));
                let rows: Vec<&(usize, &str)> =
                    body.iter().filter(|(_, l)| !l.trim().is_empty()).collect();
                if ids.len() < rows.len() {
                    errors.push(format!(
                        "{doc}:{open}: a hex block of {} lines is followed by {} citations",
                        rows.len(),
                        ids.len()
                    ));
                }
                for (&&(n, l), id) in rows.iter().zip(ids) {
                    let mut words = l.split_whitespace().peekable();
                    if words.peek().is_some_and(|w| w.contains('→')) {
                        words.next();
                    }
                    let bytes: Result<Vec<u8>, String> =
                        words.take_while(|w| is_hex_pair(w)).map(hex_byte).collect();
                    match bytes {
                        Ok(b) if b.is_empty() => {
                            errors.push(format!("{doc}:{n}: a hex line without bytes"))
                        }
                        Ok(bytes) => examples.push(Example {
                            line: n,
                            bytes,
                            part: Part::Whole,
                            vector: id,
                        }),
                        Err(e) => errors.push(format!("{doc}:{n}: {e}")),
                    }
                }
            }
            other => errors.push(format!(
                "{doc}:{open}: fence tagged {other:?}; use `hex` or `http` (bytes) or `text` \
                 (diagram)"
            )),
        }
    }
    units.push(unit);
    for unit in units {
        // (line, is a citation, the span or the id), in reading order.
        let mut items: Vec<(usize, bool, String)> = Vec::new();
        for &(n, line) in &unit {
            for (k, piece) in line.split('`').enumerate() {
                if k % 2 == 1 {
                    items.push((n, false, piece.to_owned()));
                    continue;
                }
                let words: Vec<&str> = piece.split_whitespace().collect();
                if words
                    .windows(2)
                    .any(|w| is_hex_pair(w[0]) && is_hex_pair(w[1]))
                {
                    errors.push(format!(
                        "{doc}:{n}: bytes outside code; write a byte example as a code span"
                    ));
                }
                let mut rest = piece;
                while let Some(at) = rest.find(CITE) {
                    let after = &rest[at + CITE.len()..];
                    let end = after.find(']').unwrap_or(after.len());
                    items.push((n, true, after[..end].to_owned()));
                    rest = &after[(end + 1).min(after.len())..];
                }
            }
        }
        for (k, (n, is_cite, span)) in items.iter().enumerate() {
            if *is_cite {
                continue;
            }
            match byte_notation(span) {
                None => {}
                Some(Err(e)) => errors.push(format!("{doc}:{n}: {e}")),
                Some(Ok((bytes, part))) => match items[k + 1..].iter().find(|(_, c, _)| *c) {
                    Some((_, _, id)) => examples.push(Example {
                        line: *n,
                        bytes,
                        part,
                        vector: id.clone(),
                    }),
                    None => errors.push(format!(
                        "{doc}:{n}: byte example `{span}` cites no vector after it in its \
                             paragraph"
                    )),
                },
            }
        }
    }
    examples.sort_by_key(|e| e.line);
    (examples, errors)
}

/// The fields of a vector that hold bytes as text (ASCII, as in HTTP).
const TEXT_FIELDS: [&str; 2] = ["request", "response"];

/// Every vector's byte fields, by id.
fn vector_bytes() -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    let mut out = BTreeMap::new();
    let dir = PathBuf::from(SPEC).join("vectors");
    for entry in std::fs::read_dir(&dir).expect("spec/vectors exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        for v in json["vectors"].as_array().expect("vectors") {
            let id = v["id"].as_str().expect("id").to_owned();
            let mut fields = Vec::new();
            for name in BYTE_FIELDS {
                let values = match &v[name] {
                    serde_json::Value::String(s) => vec![s.as_str()],
                    // A list of byte strings, or of objects with a `payload` (`sent`).
                    serde_json::Value::Array(a) => a
                        .iter()
                        .filter_map(|x| x.as_str().or_else(|| x["payload"].as_str()))
                        .collect(),
                    _ => continue,
                };
                for s in values {
                    let bytes = s
                        .split_whitespace()
                        .map(hex_byte)
                        .collect::<Result<Vec<u8>, _>>()
                        .unwrap_or_else(|e| panic!("{id}: field {name}: {e}"));
                    fields.push((name.to_owned(), bytes));
                }
            }
            for name in TEXT_FIELDS {
                if let Some(text) = v[name].as_str() {
                    fields.push((name.to_owned(), text.as_bytes().to_vec()));
                }
            }
            out.insert(id, fields);
        }
    }
    out
}

/// Why `example` does not show the bytes of its vector, if it does not.
fn mismatch(
    doc: &str,
    e: &Example,
    vectors: &BTreeMap<String, Vec<(String, Vec<u8>)>>,
) -> Option<String> {
    let Some(fields) = vectors.get(&e.vector) else {
        return Some(format!(
            "{doc}:{}: cites unknown vector {}",
            e.line, e.vector
        ));
    };
    let fits = |b: &Vec<u8>| match e.part {
        Part::Whole => *b == e.bytes,
        Part::Prefix => b.starts_with(&e.bytes),
        Part::Suffix => b.ends_with(&e.bytes),
    };
    if fields.iter().any(|(_, b)| fits(b)) {
        return None;
    }
    let hex = |b: &[u8]| {
        b.iter()
            .map(|x| format!("{x:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let have: Vec<String> = fields
        .iter()
        .map(|(n, b)| format!("{n} = {}", hex(b)))
        .collect();
    Some(format!(
        "{doc}:{}: `{}` ({:?}) is no byte field of {}: {have:?}",
        e.line,
        hex(&e.bytes),
        e.part,
        e.vector
    ))
}

#[test]
fn every_byte_example_equals_its_vector() {
    let vectors = vector_bytes();
    let mut errors = Vec::new();
    let mut checked = 0;
    for (doc, text) in documents() {
        let (examples, errs) = byte_examples(&doc, &text);
        errors.extend(errs);
        for e in &examples {
            errors.extend(mismatch(&doc, e, &vectors));
        }
        checked += examples.len();
    }
    assert!(errors.is_empty(), "byte examples: {errors:#?}");
    assert!(checked >= 40, "only {checked} byte examples found");
    eprintln!("{checked} byte examples checked");
}

/// The planted check: the parser finds each kind of example, and a changed byte is
/// reported, in a block and inline.
#[test]
fn a_changed_byte_example_is_reported() {
    let vectors = BTreeMap::from([
        (
            "t.hdr".to_owned(),
            vec![("wire".to_owned(), vec![0, 0x53, 0x50, 0])],
        ),
        (
            "t.msg".to_owned(),
            vec![("message".to_owned(), b"\x80hi".to_vec())],
        ),
        (
            "t.http".to_owned(),
            vec![(
                "response".to_owned(),
                b"HTTP/1.1 404 No\r\nA: b\r\n\r\nx y".to_vec(),
            )],
        ),
    ]);
    let good = "Intro `00 53 50 ...` and\nmore [vector: t.hdr].\n\n```hex\nA→B  00 53 50 00  \
                header\n   80 68 69   \"hi\"\n```\n\n[vector: t.hdr] [vector: t.msg]. Then\n\n\
                | `80 \"hi\"` | `\"hi\"` | `0x80` | [vector: t.msg] |\n| `... 50 00` | [vector: t.hdr] |\n\n\
                ```http\nHTTP/1.1 404 No\nA: b\n\nx y\n```\n\n[vector: t.http]\n";
    let (examples, errors) = byte_examples("t", good);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(examples.len(), 6, "{examples:#?}");
    assert!(examples
        .iter()
        .all(|e| mismatch("t", e, &vectors).is_none()));
    let parts: Vec<Part> = examples.iter().map(|e| e.part).collect();
    use Part::*;
    assert_eq!(parts, [Prefix, Whole, Whole, Whole, Suffix, Whole]);
    assert_eq!(examples[0].bytes, [0, 0x53, 0x50]);
    assert_eq!(examples[3].bytes, b"\x80hi");

    // Each change of one byte of an example must be reported.
    for (from, to) in [
        ("A→B  00 53 50 00", "A→B  00 53 51 00"),
        ("80 68 69", "80 68 6a"),
        ("`80 \"hi\"`", "`80 \"ho\"`"),
        ("`00 53 50 ...`", "`00 53 51 ...`"),
        ("`... 50 00`", "`... 50 01`"),
        ("A: b\n", "A: c\n"),
        ("\nx y\n", "\nx-y\n"),
    ] {
        let bad = good.replacen(from, to, 1);
        assert_ne!(bad, good);
        let (examples, errors) = byte_examples("t", &bad);
        assert!(errors.is_empty(), "{errors:?}");
        let reported: Vec<String> = examples
            .iter()
            .filter_map(|e| mismatch("t", e, &vectors))
            .collect();
        assert_eq!(reported.len(), 1, "{to}: {reported:?}");
    }
    // Rule breaches are reported: bytes in a diagram, an untagged fence, a missing
    // citation, a short citation list after a hex block, uppercase hex, an http block
    // without a citation, bytes in prose outside code.
    for bad in [
        "```text\n  00 53 50\n```\n",
        "```\nx\n```\n",
        "see `00 53`.\n",
        "```hex\n00\n01\n```\n\n[vector: t.hdr]\n",
        "`0A 0B` [vector: t.hdr]\n",
        "```http\nGET / HTTP/1.1\n```\n\nno citation\n",
        "the bytes 00 53 in prose [vector: t.hdr]\n",
    ] {
        let (_, errors) = byte_examples("t", bad);
        assert_eq!(errors.len(), 1, "{bad:?}: {errors:?}");
    }
}
