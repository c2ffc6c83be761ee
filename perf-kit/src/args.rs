//! The command line of nanomsg's six perf tools, shared by `sp-perf` and the C libraries'
//! perf tools, so that every tool reads its arguments the same way.
//!
//! ```text
//! [--pipeline] {local_lat|remote_lat|local_thr|remote_thr} <addr> <msg-size> <count>
//! [--pipeline] {inproc_lat|inproc_thr} <msg-size> <count>
//! ```
//!
//! The tool may also be the program's name (a link called `local_lat`), as with nanomsg.

/// A parsed tool invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolArgs {
    /// `local_lat`, `remote_lat`, `local_thr`, `remote_thr`, `inproc_lat`, `inproc_thr`.
    pub tool: String,
    /// The address (`inproc://inproc_perf` for the in-process tools).
    pub addr: String,
    /// Message size in bytes.
    pub size: usize,
    /// Round trips or messages.
    pub count: usize,
    /// PUSH/PULL instead of PAIR for the throughput tools.
    pub pipeline: bool,
}

/// The tools, by name.
pub const TOOLS: [&str; 6] = [
    "local_lat",
    "remote_lat",
    "local_thr",
    "remote_thr",
    "inproc_lat",
    "inproc_thr",
];

/// The usage text: of `tool` when it is known, of the whole program `prog` otherwise.
pub fn usage(prog: &str, tool: Option<&str>) -> String {
    match tool {
        Some("local_lat") => "usage: local_lat <bind-to> <msg-size> <roundtrips>".into(),
        Some("remote_lat") => "usage: remote_lat <connect-to> <msg-size> <roundtrips>".into(),
        Some("local_thr") => "usage: local_thr <bind-to> <msg-size> <msg-count>".into(),
        Some("remote_thr") => "usage: remote_thr <connect-to> <msg-size> <msg-count>".into(),
        Some("inproc_lat") => "usage: inproc_lat <message-size> <roundtrip-count>".into(),
        Some("inproc_thr") => "usage: inproc_thr <message-size> <message-count>".into(),
        _ => format!(
            "usage: {prog} [--pipeline] {{local_lat|remote_lat|local_thr|remote_thr}} <addr> \
             <msg-size> <count>\n       {prog} [--pipeline] {{inproc_lat|inproc_thr}} \
             <msg-size> <count>\n       {prog} mem_conn <url> <count>\n       \
             {prog} mem_sub <count>"
        ),
    }
}

/// Parses `[--pipeline] TOOL [ADDR] SIZE COUNT`; the error is the usage text to print.
pub fn parse_args(argv: &[String]) -> Result<ToolArgs, String> {
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_owned())
        .unwrap_or_default();
    let mut rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let pipeline = rest.first() == Some(&"--pipeline");
    if pipeline {
        rest.remove(0);
    }
    let tool = if TOOLS.contains(&prog.as_str()) {
        prog.clone()
    } else if let Some(t) = rest.first().filter(|t| TOOLS.contains(t)) {
        let t = (*t).to_owned();
        rest.remove(0);
        t
    } else {
        return Err(usage(&prog, None));
    };
    let inproc = tool.starts_with("inproc");
    if rest.len() != if inproc { 2 } else { 3 } {
        return Err(usage(&prog, Some(&tool)));
    }
    let (addr, nums) = if inproc {
        ("inproc://inproc_perf".to_owned(), &rest[..])
    } else {
        (rest[0].to_owned(), &rest[1..])
    };
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("{s:?} is not a number\n{}", usage(&prog, Some(&tool))))
    };
    Ok(ToolArgs {
        size: number(nums[0])?,
        count: number(nums[1])?,
        tool,
        addr,
        pipeline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn tool_arguments_parse_like_nanomsgs_tools() {
        let a = parse_args(&argv("x local_lat tcp://127.0.0.1:5555 64 1000")).unwrap();
        assert_eq!(
            (
                a.tool.as_str(),
                a.addr.as_str(),
                a.size,
                a.count,
                a.pipeline
            ),
            ("local_lat", "tcp://127.0.0.1:5555", 64, 1000, false)
        );
        let a = parse_args(&argv("/bin/inproc_thr 1024 10")).unwrap();
        assert_eq!((a.tool.as_str(), a.size, a.count), ("inproc_thr", 1024, 10));
        assert_eq!(a.addr, "inproc://inproc_perf");
        let a = parse_args(&argv("x --pipeline remote_thr ipc:///tmp/a 1 2")).unwrap();
        assert!(a.pipeline);
    }

    #[test]
    fn bad_arguments_give_the_usage_text() {
        let e = parse_args(&argv("x local_lat tcp://a:1 64")).unwrap_err();
        assert!(e.starts_with("usage: local_lat"), "{e}");
        let e = parse_args(&argv("x local_lat tcp://a:1 big 1")).unwrap_err();
        assert!(e.starts_with("\"big\" is not a number"), "{e}");
        let e = parse_args(&argv("/usr/bin/sp-perf nonsense 1 2")).unwrap_err();
        assert!(e.starts_with("usage: sp-perf [--pipeline]"), "{e}");
    }
}
