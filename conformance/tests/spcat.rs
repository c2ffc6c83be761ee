//! `spcat` against `nanocat` (nanomsg-utils) and `nngcat` (nng-utils): the same command
//! lines with the tools swapped must print the same bytes, for every output format.
//!
//! Our spcat runs as `conformance-spcat`, the same source built as a binary of this
//! package (see Cargo.toml), so the test always runs a fresh build. Each case runs twice:
//! their tool serving and ours asking, then ours serving and theirs asking; the server's
//! output (what it received) and the client's output (the answer) must be equal across
//! the two runs. Where nngcat legitimately differs from nanocat (wire-facts §15.5), the
//! difference is listed in [`nngcat_differs`] and asserted as such, so a change shows.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPCAT: &str = env!("CARGO_BIN_EXE_conformance-spcat");

const FORMATS: [&str; 5] = ["--ascii", "--quoted", "--hex", "--msgpack", "--raw"];

/// The request and the answer: printable text, quotes, a tab, a control byte, UTF-8.
const ASK: &str = "Q\t\"q\"\x01 é";
const ANSWER: &str = "R1 \"x\" \\";

/// A pair of roles: the server binds and answers with `--data`, the client connects and
/// sends `--data`, each printing what it receives.
#[derive(Clone, Copy, Debug)]
struct Roles {
    server: &'static str,
    client: &'static str,
    /// Extra client flags (a surveyor waits for the respondent to connect).
    client_extra: &'static [&'static str],
}

const ROLES: [Roles; 2] = [
    Roles {
        server: "--rep",
        client: "--req",
        client_extra: &[],
    },
    Roles {
        server: "--respondent",
        client: "--surveyor",
        client_extra: &["-d", "1"],
    },
];

fn ipc_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sp-spcat-{}-{tag}.ipc", std::process::id()))
}

/// Where a run's server binds: an IPC path (the default), or a path-less `ws://` URL on a
/// free loopback port (NNG 1.5.2 dials those with an empty request target).
#[derive(Clone, Debug)]
enum Addr {
    Ipc(PathBuf),
    WsNoPath(u16),
}

impl Addr {
    fn ipc(tag: &str) -> Self {
        let path = ipc_path(tag);
        let _ = std::fs::remove_file(&path);
        Self::Ipc(path)
    }

    fn ws_no_path() -> Self {
        // A port free a moment ago; loopback only.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        Self::WsNoPath(l.local_addr().unwrap().port())
    }

    fn url(&self) -> String {
        match self {
            Self::Ipc(path) => format!("ipc://{}", path.display()),
            Self::WsNoPath(port) => format!("ws://127.0.0.1:{port}"),
        }
    }

    /// Whether the server has bound.
    fn bound(&self) -> bool {
        match self {
            Self::Ipc(path) => path.exists(),
            Self::WsNoPath(port) => std::net::TcpStream::connect(("127.0.0.1", *port)).is_ok(),
        }
    }

    /// Waits until the server binds (10 s at most).
    fn wait_bound(&self, server: &mut std::process::Child, tool: &str) -> Result<(), String> {
        let start = Instant::now();
        while !self.bound() {
            if start.elapsed() > Duration::from_secs(10) {
                let _ = server.kill();
                return Err(format!("{tool} never bound {}", self.url()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    fn remove(&self) {
        if let Self::Ipc(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs one exchange: `server_tool` serving, `client_tool` asking. Returns the two
/// outputs (server, client).
fn exchange(
    server_tool: &str,
    client_tool: &str,
    roles: Roles,
    format: &str,
    addr: &Addr,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let url = addr.url();
    let mut server = Command::new(server_tool)
        .args([roles.server, "--bind", &url, "--data", ANSWER, format])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot run {server_tool}: {e} (apt-get install nanomsg-utils nng-utils)")
        })?;
    addr.wait_bound(&mut server, server_tool)?;
    // A client that connects synchronously (nngcat without --compat) fails if it comes
    // between the server's bind and listen: try again.
    let mut client_out = None;
    for _ in 0..20 {
        let out = Command::new(client_tool)
            .args([roles.client, "--connect", &url, "--data", ASK, format])
            .args(roles.client_extra)
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {client_tool}: {e}"))?;
        if out.status.success() {
            client_out = Some(out.stdout);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = server.kill();
    let server_out = server.wait_with_output().map_err(|e| e.to_string())?.stdout;
    addr.remove();
    let client_out =
        client_out.ok_or_else(|| format!("{client_tool} {} kept failing", roles.client))?;
    Ok((server_out, client_out))
}

/// Where nngcat's output is not nanocat's (and so not ours): `(format, role, how)`.
/// nngcat's `--ascii` ends a message without a newline, and its `--quoted` writes C
/// escapes (`\t`) where nanocat writes `\x09`.
fn nngcat_differs(format: &str, body: &str) -> Option<&'static str> {
    match format {
        "--ascii" => Some("--ascii: no newline after each message"),
        "--quoted" if body.contains('\t') => Some("--quoted: a tab is written \\t, not \\x09"),
        _ => None,
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).escape_debug().to_string()
}

#[test]
fn spcat_prints_what_nanocat_and_nngcat_print() {
    let mut cases = Vec::new();
    for theirs in ["nanocat", "nngcat"] {
        for roles in ROLES {
            for format in FORMATS {
                cases.push((theirs, roles, format));
            }
        }
    }
    // Each case is two short runs of two processes: run them all at once, in threads.
    let handles: Vec<_> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (theirs, roles, format))| {
            std::thread::spawn(move || {
                let a = exchange(theirs, SPCAT, roles, format, &Addr::ipc(&format!("{i}a")))?;
                let b = exchange(SPCAT, theirs, roles, format, &Addr::ipc(&format!("{i}b")))?;
                Ok::<_, String>((theirs, roles, format, a, b))
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut differences = Vec::new();
    for h in handles {
        let (theirs, roles, format, (their_server, our_client), (our_server, their_client)) =
            match h.join().expect("case thread panicked") {
                Ok(r) => r,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
        for (role, body, t, o) in [
            (roles.server, ASK, &their_server, &our_server),
            (roles.client, ANSWER, &their_client, &our_client),
        ] {
            if o.is_empty() {
                failures.push(format!("{role} {format}: spcat printed nothing"));
                continue;
            }
            let expected_diff = if theirs == "nngcat" {
                nngcat_differs(format, body)
            } else {
                None
            };
            match (t == o, expected_diff) {
                (true, None) => {}
                (false, Some(why)) => differences.push(format!("nngcat {role} {why}")),
                (true, Some(why)) => failures.push(format!(
                    "nngcat {role} {format}: expected to differ ({why}) but printed the same"
                )),
                (false, None) => failures.push(format!(
                    "{theirs} {role} {format}: theirs {:?}, ours {:?}",
                    show(t),
                    show(o)
                )),
            }
        }
    }
    eprintln!("nngcat differences (expected): {differences:#?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One-way and two-way pairs checked by repetition: the sender repeats `--data` every
/// second, the receiver prints what arrives; after a while both are stopped and the
/// receiver's output must be whole repetitions of one formatted message.
/// nngcat is given the versioned names (`--pair0`, `--bus0`, see [`role_flag`]): its
/// plain `--pair` is ambiguous without `--compat`.
const STREAMS: [(&str, &str); 4] = [
    ("--pull", "--push"),
    ("--sub", "--pub"),
    ("--pair", "--pair"),
    ("--bus", "--bus"),
];

/// The role flag as `tool` spells it.
fn role_flag(tool: &str, flag: &'static str) -> &'static str {
    match (tool, flag) {
        ("nngcat", "--pair") => "--pair0",
        ("nngcat", "--bus") => "--bus0",
        _ => flag,
    }
}

/// The smallest unit `u` with `out == u.repeat(k)`.
fn repeated_unit(out: &[u8]) -> &[u8] {
    (1..=out.len())
        .filter(|p| out.len() % p == 0)
        .find(|&p| out.chunks(p).all(|c| c == &out[..p]))
        .map_or(out, |p| &out[..p])
}

/// Runs `receiver_tool` bound with `format` and `sender_tool` connected, repeating the
/// message; returns the receiver's output.
fn stream(
    receiver_tool: &str,
    sender_tool: &str,
    roles: (&'static str, &'static str),
    format: &str,
    addr: &Addr,
) -> Result<Vec<u8>, String> {
    let url = addr.url();
    let mut receiver = Command::new(receiver_tool)
        .args([role_flag(receiver_tool, roles.0), "--bind", &url, format])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            format!("cannot run {receiver_tool}: {e} (apt-get install nanomsg-utils nng-utils)")
        })?;
    addr.wait_bound(&mut receiver, receiver_tool)?;
    let mut sender = Command::new(sender_tool)
        // Whole seconds: nngcat takes only integers for --delay and --interval.
        .args([
            role_flag(sender_tool, roles.1),
            "--connect",
            &url,
            "--data",
            ASK,
            "-d",
            "1",
            "-i",
            "1",
        ])
        // nngcat dials synchronously unless --compat, and gives up if it comes between
        // the receiver's bind and listen; nanocat and spcat always retry.
        .args(if sender_tool == "nngcat" {
            &["--compat"][..]
        } else {
            &[][..]
        })
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {sender_tool}: {e}"))?;
    std::thread::sleep(Duration::from_millis(2600));
    let _ = sender.kill();
    let _ = sender.wait();
    let _ = receiver.kill();
    let out = receiver
        .wait_with_output()
        .map_err(|e| e.to_string())?
        .stdout;
    addr.remove();
    Ok(out)
}

#[test]
fn spcat_receives_and_prints_like_nanocat_and_nngcat_on_every_other_pair() {
    let mut cases = Vec::new();
    for theirs in ["nanocat", "nngcat"] {
        for roles in STREAMS {
            for format in FORMATS {
                cases.push((theirs, roles, format));
            }
        }
    }
    let mut failures = Vec::new();
    // Two processes per run and four runs per case: a few cases at a time.
    for (chunk_no, chunk) in cases.chunks(20).enumerate() {
        let handles: Vec<_> = chunk
            .iter()
            .copied()
            .enumerate()
            .map(|(i, (theirs, roles, format))| {
                std::thread::spawn(move || {
                    let tag = format!("s{chunk_no}-{i}");
                    // Receivers compared: theirs fed by ours, ours fed by theirs.
                    let their_recv =
                        stream(theirs, SPCAT, roles, format, &Addr::ipc(&format!("{tag}a")))?;
                    let our_recv =
                        stream(SPCAT, theirs, roles, format, &Addr::ipc(&format!("{tag}b")))?;
                    Ok::<_, String>((theirs, roles, format, their_recv, our_recv))
                })
            })
            .collect();
        for h in handles {
            let (theirs, roles, format, t, o) = match h.join().expect("case thread panicked") {
                Ok(r) => r,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            if t.is_empty() || o.is_empty() {
                failures.push(format!(
                    "{theirs} {} {format}: no output (theirs {} bytes, ours {} bytes)",
                    roles.0,
                    t.len(),
                    o.len()
                ));
                continue;
            }
            let (tu, ou) = (repeated_unit(&t), repeated_unit(&o));
            let expected_diff = if theirs == "nngcat" {
                nngcat_differs(format, ASK)
            } else {
                None
            };
            match (tu == ou, expected_diff) {
                (true, None) | (false, Some(_)) => {}
                (true, Some(why)) => failures.push(format!(
                    "nngcat {} {format}: expected to differ ({why})",
                    roles.0
                )),
                (false, None) => failures.push(format!(
                    "{theirs} {} {format}: theirs {:?}, ours {:?}",
                    roles.0,
                    show(tu),
                    show(ou)
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Path-less `ws://` URLs between spcat and nngcat, every protocol, both ways: NNG 1.5.2
/// dials them with an empty request target (`GET  HTTP/1.1`), which spcat's listener
/// must serve as `/`, and spcat's dialer must ask NNG's listener for `/`.
#[test]
fn spcat_and_nngcat_meet_on_path_less_ws_urls() {
    let mut failures = Vec::new();
    let exchanges = ROLES.into_iter().flat_map(|roles| {
        [("nngcat", SPCAT), (SPCAT, "nngcat")].map(|(server, client)| (roles, server, client))
    });
    let exchanges: Vec<_> = exchanges
        .map(|(roles, server, client)| {
            std::thread::spawn(move || {
                let got = exchange(server, client, roles, "-A", &Addr::ws_no_path());
                (roles, server, got)
            })
        })
        .collect();
    for h in exchanges {
        let (roles, server, got) = h.join().expect("exchange thread panicked");
        match got {
            Ok((server_out, client_out)) => {
                // nngcat's --ascii has no newline after a message; compare the text.
                let (asked, answered) = (show(&server_out), show(&client_out));
                if !asked.starts_with('Q') || !answered.starts_with("R1") {
                    failures.push(format!(
                        "{} served by {server}: server printed {asked:?}, client {answered:?}",
                        roles.server
                    ));
                }
            }
            Err(e) => failures.push(e),
        }
    }
    let streams: Vec<_> = STREAMS
        .into_iter()
        .flat_map(|roles| {
            [("nngcat", SPCAT), (SPCAT, "nngcat")].map(|(recv, send)| (roles, recv, send))
        })
        .map(|(roles, recv, send)| {
            std::thread::spawn(move || {
                // One retry (as the matrix allows a cell): a stream gets only 2.6 s, and
                // a loaded machine can spend most of it starting both tools.
                let mut got = stream(recv, send, roles, "-A", &Addr::ws_no_path());
                if matches!(&got, Ok(out) if !show(out).contains('Q')) {
                    got = stream(recv, send, roles, "-A", &Addr::ws_no_path());
                }
                (roles, recv, got)
            })
        })
        .collect();
    for h in streams {
        let (roles, recv, got) = h.join().expect("stream thread panicked");
        match got {
            Ok(out) if show(&out).contains("Q") => {}
            Ok(out) => failures.push(format!(
                "{} {recv} listening: received {:?}",
                roles.0,
                show(&out)
            )),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Debian's `nanocat` binary, unchanged, on our `libnanomsg.so.5` (sp-capi, through
/// `LD_LIBRARY_PATH`), talking to spcat and to nngcat, serving and asking, for REQ/REP
/// and SURVEYOR/RESPONDENT: each side must print exactly what it prints when the same
/// nanocat runs on the real libnanomsg in its place.
#[test]
fn nanocat_on_our_libnanomsg_talks_to_spcat_and_nngcat() {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = conformance::harness::capi_lib_dir(&exe.with_file_name("libnanomsg.so"), "nanocat")
        .unwrap_or_else(|e| panic!("{e}"));
    // The loader must resolve nanocat's libnanomsg.so.5 to ours with this search path.
    let ldd = Command::new("ldd")
        .arg("/usr/bin/nanocat")
        .env("LD_LIBRARY_PATH", &dir)
        .output()
        .expect("ldd (nanomsg-utils installed?)");
    let ldd = String::from_utf8_lossy(&ldd.stdout).into_owned();
    let line = ldd
        .lines()
        .find(|l| l.contains("libnanomsg.so.5"))
        .unwrap_or_else(|| panic!("nanocat does not need libnanomsg.so.5:\n{ldd}"));
    assert!(
        line.contains(dir.to_str().expect("utf-8 temp dir")),
        "libnanomsg.so.5 resolved elsewhere: {line}"
    );
    let wrapper = dir.join("nanocat-on-sp-capi");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nLD_LIBRARY_PATH='{}' exec /usr/bin/nanocat \"$@\"\n",
            dir.display()
        ),
    )
    .expect("write the nanocat wrapper");
    let mut perms = std::fs::metadata(&wrapper).expect("wrapper").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&wrapper, perms).expect("chmod the wrapper");
    let ours = wrapper.to_str().expect("utf-8 temp dir").to_owned();

    let mut cases = Vec::new();
    for other in [SPCAT, "nngcat"] {
        for roles in ROLES {
            for nanocat_serves in [true, false] {
                cases.push((other, roles, nanocat_serves));
            }
        }
    }
    let handles: Vec<_> = cases
        .into_iter()
        .enumerate()
        .map(|(i, (other, roles, nanocat_serves))| {
            let ours = ours.clone();
            std::thread::spawn(move || {
                let run = |nanocat: &str, tag: &str| {
                    let addr = Addr::ipc(&format!("nanocat-{i}{tag}"));
                    if nanocat_serves {
                        exchange(nanocat, other, roles, "--hex", &addr)
                    } else {
                        exchange(other, nanocat, roles, "--hex", &addr)
                    }
                };
                let on_ours = run(&ours, "a")?;
                let on_real = run("nanocat", "b")?;
                Ok::<_, String>((other, roles, nanocat_serves, on_ours, on_real))
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut checked = 0;
    for h in handles {
        match h.join().expect("case thread panicked") {
            Err(e) => failures.push(e),
            Ok((other, roles, nanocat_serves, on_ours, on_real)) => {
                let other = if other == SPCAT { "spcat" } else { other };
                let (server, client) = if nanocat_serves {
                    ("nanocat", other)
                } else {
                    (other, "nanocat")
                };
                if on_ours.0.is_empty() || on_ours.1.is_empty() || on_ours != on_real {
                    failures.push(format!(
                        "{server} {} / {client} {}: on our library server {:?} client {:?}, \
                         on libnanomsg server {:?} client {:?}",
                        roles.server,
                        roles.client,
                        show(&on_ours.0),
                        show(&on_ours.1),
                        show(&on_real.0),
                        show(&on_real.1)
                    ));
                }
                checked += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 8, "every case ran");
}
