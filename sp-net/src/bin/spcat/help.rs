//! The usage screen (`--help`), laid out as nanocat lays out its own from the option table.

use crate::options::{OPTIONS, REQUIRED};

/// nanocat's `isspace`-based line breaking: the longest head of at most `width` bytes
/// ending before a space, and the rest after that space.
fn break_line(s: &str, width: usize) -> (&str, &str) {
    if s.len() < width {
        return (s, "");
    }
    let b = s.as_bytes();
    for i in (2..=width).rev() {
        if b.get(i).is_some_and(u8::is_ascii_whitespace) {
            return (&s[..i], &s[i + 1..]);
        }
    }
    (s, "")
}

/// The help text, laid out as nanocat lays out its own.
pub(crate) fn help(argv0: &str) -> String {
    let mut out = String::from("Usage:\n");
    out.push_str(&format!("    {argv0} "));
    let required: Vec<_> = OPTIONS
        .iter()
        .filter(|o| o.provides & REQUIRED != 0 && !o.alias)
        .map(|o| format!("--{}", o.long))
        .collect();
    out.push_str(&format!("{{{}}} ", required.join("|")));
    let rest = || OPTIONS.iter().filter(|o| o.provides & REQUIRED == 0);
    let flags: String = rest()
        .filter(|o| !o.action.has_arg())
        .filter_map(|o| o.short.map(char::from))
        .collect();
    if !flags.is_empty() {
        out.push_str(&format!("[-{flags}] "));
    }
    for o in rest().filter(|o| o.action.has_arg()) {
        if let (Some(c), Some(m)) = (o.short, o.metavar) {
            out.push_str(&format!("[-{} {m}] ", char::from(c)));
        }
    }
    out.push_str("[options] \n");
    out.push_str("\nA command-line interface to the Scalability Protocols (nanocat-compatible)\n");
    let mut group = "";
    for o in OPTIONS {
        if o.group != group {
            out.push_str(&format!("\n{}:\n", o.group));
            group = o.group;
        }
        let mut head = format!(" --{}", o.long);
        if let Some(c) = o.short {
            head.push_str(&format!(",-{}", char::from(c)));
        }
        if o.action.has_arg() {
            head.push(' ');
            head.push_str(o.metavar.unwrap_or("ARG"));
        }
        out.push_str(&head);
        let mut cursor = o.help;
        if head.len() < 23 {
            out.push_str(&" ".repeat(24 - head.len()));
            let (line, next) = break_line(cursor, 56);
            out.push_str(line);
            cursor = next;
        }
        while !cursor.is_empty() {
            out.push_str("\n                        ");
            let (line, next) = break_line(cursor, 56);
            out.push_str(line);
            cursor = next;
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_option_in_nanocat_layout() {
        let Err(crate::args::Stop::Print(h)) =
            crate::args::parse(&[b"nanocat".to_vec(), b"--pull".to_vec(), b"--help".to_vec()])
        else {
            panic!("no help")
        };
        assert!(h.starts_with("Usage:\n    nanocat {--push|--pull|"), "{h}");
        assert!(
            h.contains("\nGeneric:\n --verbose,-v           Increase verbosity"),
            "{h}"
        );
        assert!(h.contains("\n --bind-ipc,-X PATH     Bind socket"), "{h}");
        for o in OPTIONS {
            assert!(h.contains(&format!(" --{}", o.long)), "{}", o.long);
        }
        for line in h.lines().skip(2) {
            assert!(line.len() <= 80, "too long: {line}");
        }
    }

    #[test]
    fn line_breaking() {
        assert_eq!(break_line("short", 56), ("short", ""));
        let long = "word ".repeat(20);
        let (a, b) = break_line(&long, 56);
        assert!(a.len() <= 56 && !a.ends_with(' '));
        assert_eq!(format!("{a} {b}"), long);
    }
}
