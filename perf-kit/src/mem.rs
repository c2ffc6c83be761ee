//! The memory tools shared by `sp-perf` and the C libraries' perf tools: their
//! command line, the heap and RSS snapshots, the subscription topics and the report lines.
//!
//! ```text
//! mem_conn <url> <count>   one listener and <count> dialer sockets, one connection each
//! mem_sub <count>          one SUB socket subscribed to <count> distinct topics
//! ```
//!
//! Heap bytes in use come from glibc's `mallinfo2` (`uordblks + hblkhd`, summed over all
//! arenas), resident bytes from `/proc/self/statm`; both read "unavailable" elsewhere.
//! Both ends of every `mem_conn` connection live in the measuring process, so its
//! per-connection figures count both ends.

use std::time::Duration;

/// A memory tool and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemTool {
    /// `mem_conn <url> <count>`: the cost of idle connections.
    Conn {
        /// Where the listener binds and the dialers connect.
        url: String,
        /// Connections (and dialer sockets).
        count: usize,
    },
    /// `mem_sub <count>`: the cost of subscriptions.
    Sub {
        /// Topics subscribed, [`topic`]`(0..count)`.
        count: usize,
    },
}

/// How long a memory tool waits for its connections (or one send or receive).
pub const WAIT: Duration = Duration::from_secs(30);

/// The pause between the last connection coming up and the measurement, for the
/// libraries' background threads to finish their share of the set-up.
pub const SETTLE: Duration = Duration::from_millis(300);

fn usage_text(prog: &str) -> String {
    format!("usage: {prog} mem_conn <url> <count>\n       {prog} mem_sub <count>")
}

/// Parses `mem_conn <url> <count>` or `mem_sub <count>` (the tool may be the program
/// name); `None` when `argv` names no memory tool.
pub fn parse_tool(argv: &[String]) -> Option<Result<MemTool, String>> {
    let prog = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .unwrap_or_default();
    let mut rest: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let tool = if prog == "mem_conn" || prog == "mem_sub" {
        prog
    } else if matches!(rest.first(), Some(&("mem_conn" | "mem_sub"))) {
        rest.remove(0)
    } else {
        return None;
    };
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| format!("{s:?} is not a number\n{}", usage_text(prog)))
    };
    Some(match (tool, rest.as_slice()) {
        ("mem_conn", [url, count]) => number(count).map(|count| MemTool::Conn {
            url: (*url).to_owned(),
            count,
        }),
        ("mem_sub", [count]) => number(count).map(|count| MemTool::Sub { count }),
        _ => Err(usage_text(prog)),
    })
}

/// The `i`-th subscription topic: 8 to 24 letters out of `a`..`p`. The first 8 spell
/// a bijective scramble of `i`, so the topics are distinct and none is a prefix of
/// another; the rest are pseudo-random. Every tool subscribes the same topics.
pub fn topic(i: u32) -> Vec<u8> {
    // An invertible 32-bit mix (xor-shifts and odd multipliers).
    let mut head = i;
    head ^= head >> 16;
    head = head.wrapping_mul(0x7feb_352d);
    head ^= head >> 15;
    head = head.wrapping_mul(0x846c_a68b);
    head ^= head >> 16;
    let r = splitmix(u64::from(i));
    let len = 8 + (r % 17) as usize;
    let mut tail = splitmix(r);
    let mut t = Vec::with_capacity(len);
    for k in 0..8 {
        t.push(b'a' + ((head >> (4 * k)) & 15) as u8);
    }
    for _ in 8..len {
        t.push(b'a' + (tail & 15) as u8);
        tail >>= 4;
    }
    t
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The process's memory at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Heap bytes in use (glibc only).
    pub heap: Option<u64>,
    /// Resident bytes (Linux only).
    pub rss: Option<u64>,
}

/// Takes a snapshot of the process's memory.
pub fn usage() -> Usage {
    Usage {
        heap: sys::heap_in_use(),
        rss: sys::resident(),
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod sys {
    use std::ffi::{c_int, c_long};

    extern "C" {
        fn sysconf(name: c_int) -> c_long;
    }

    /// `_SC_PAGESIZE` on Linux.
    const SC_PAGESIZE: c_int = 30;

    pub(super) fn resident() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // SAFETY: sysconf takes an integer and reads no memory of ours.
        let page = u64::try_from(unsafe { sysconf(SC_PAGESIZE) }).ok()?;
        Some(pages * page)
    }

    #[cfg(target_env = "gnu")]
    pub(super) fn heap_in_use() -> Option<u64> {
        /// glibc's `struct mallinfo2` (glibc 2.33 and later).
        #[repr(C)]
        struct Mallinfo2 {
            arena: usize,
            ordblks: usize,
            smblks: usize,
            hblks: usize,
            hblkhd: usize,
            usmblks: usize,
            fsmblks: usize,
            uordblks: usize,
            fordblks: usize,
            keepcost: usize,
        }
        extern "C" {
            fn mallinfo2() -> Mallinfo2;
        }
        // SAFETY: mallinfo2 takes no arguments and returns the struct by value.
        let m = unsafe { mallinfo2() };
        Some((m.uordblks + m.hblkhd) as u64)
    }

    #[cfg(not(target_env = "gnu"))]
    pub(super) fn heap_in_use() -> Option<u64> {
        None
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    pub(super) fn resident() -> Option<u64> {
        None
    }

    pub(super) fn heap_in_use() -> Option<u64> {
        None
    }
}

/// Bytes per item between two readings, or "unavailable".
fn per(before: Option<u64>, after: Option<u64>, n: usize) -> String {
    match (before, after) {
        (Some(b), Some(a)) if n > 0 => {
            format!("{:.0} [B]", (a as f64 - b as f64) / n as f64)
        }
        _ => "unavailable".into(),
    }
}

/// Prints `<noun>s: n`, `heap per <noun>: X [B]` and `rss per <noun>: Y [B]`.
pub fn report(noun: &str, n: usize, before: Usage, after: Usage) {
    println!("{noun}s: {n}");
    println!("heap per {noun}: {}", per(before.heap, after.heap, n));
    println!("rss per {noun}: {}", per(before.rss, after.rss, n));
}

/// Prints the `mem_conn` report from the readings before the dialer sockets were
/// opened, once they were open, and once every connection was up and idle.
pub fn report_conn(count: usize, before: Usage, opened: Usage, idle: Usage) {
    report("socket", count, before, opened);
    println!("note: per connection counts both ends (dialer and listener side) in this process");
    report("connection", count, opened, idle);
}

/// Reads `<key>: X [B]` out of a tool's report.
pub fn figure(out: &str, key: &str) -> Option<f64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .find_map(|v| v.trim().strip_suffix("[B]")?.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_distinct_deterministic_and_no_prefix_of_another() {
        let mut heads = std::collections::HashSet::new();
        for i in 0..200_000 {
            let t = topic(i);
            assert!((8..=24).contains(&t.len()), "{t:?}");
            assert!(t.iter().all(|c| (b'a'..=b'p').contains(c)), "{t:?}");
            assert!(heads.insert(t[..8].to_vec()), "topic {i} repeats a head");
        }
        assert_eq!(topic(7), topic(7));
        let lens: std::collections::HashSet<usize> = (0..1000).map(|i| topic(i).len()).collect();
        assert_eq!(lens.len(), 17, "every length from 8 to 24 occurs");
    }

    #[test]
    fn reports_parse_back() {
        let out =
            "connections: 3\nheap per connection: 1234 [B]\nrss per connection: unavailable\n";
        assert_eq!(figure(out, "heap per connection"), Some(1234.0));
        assert_eq!(figure(out, "rss per connection"), None);
        assert_eq!(figure(out, "heap per socket"), None);
        assert_eq!(per(Some(10), Some(4), 2), "-3 [B]");
        assert_eq!(per(None, Some(4), 2), "unavailable");
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn heap_and_rss_are_read() {
        // Other tests allocate and free meanwhile: a big block, a loose bound.
        let before = usage();
        let block = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = usage();
        assert!(after.heap.unwrap() >= before.heap.unwrap() + (32 << 20));
        assert!(after.rss.unwrap() >= before.rss.unwrap() + (32 << 20));
        drop(block);
    }
}
