//! The interoperability matrix against real libnanomsg and NNG (see `conformance::matrix`),
//! plus the checks that the peers really are those libraries.
//!
//! The report is written to `$CARGO_TARGET_TMPDIR/conformance.md`;
//! `SP_CONFORMANCE_WRITE_DOC=1` also writes it to `docs/conformance.md`, and
//! `SP_CONFORMANCE_ONLY=<text>` runs only the cells whose description contains the text.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use conformance::checks::Check;
use conformance::harness::{capi_lib_dir, Lib, Loader, Peer, PeerExes};
use conformance::matrix::{all_cells, run_cell, Cell, OurSide, Pattern, TRANSPORTS};
use conformance::report::{debian_package, release_of, render, today, CellResult, CheckResult};

/// The most one cell may take.
const CELL_LIMIT: Duration = Duration::from_secs(120);
/// Cells run at once (each is one peer process and two sockets).
const PARALLEL: usize = 8;

/// Our `libnanomsg.so.5`, in a directory of its own: sp-capi's cdylib, which `cargo test`
/// builds beside this test binary (sp-capi is a dev-dependency for that).
fn capi_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("test binary path");
        let lib = exe.with_file_name("libnanomsg.so");
        capi_lib_dir(&lib, "matrix").unwrap_or_else(|e| panic!("{e}"))
    })
    .clone()
}

fn exes() -> PeerExes {
    PeerExes {
        nanomsg: env!("CARGO_BIN_EXE_nanomsg-peer").into(),
        nng: env!("CARGO_BIN_EXE_nng-peer").into(),
        capi_dir: Some(capi_dir()),
    }
}

/// The planted check of the vector replay: a header vector with one byte changed (REQ's
/// type byte made REP's) fails against the real peers, which send the true bytes, and so
/// do a backtrace over the TTL claimed to be delivered and an upgrade answer with a
/// changed accept key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_vector_fails_its_replay_against_the_real_peers() {
    use conformance::vector_replay::{header, hex_field, replay_payload, upgrade};
    use sp_net::SocketType;
    let exes = exes();
    let rep = hex_field("00 53 50 00 00 31 00 00").unwrap();
    let changed = rep.clone();
    for lib in Lib::ALL {
        let e = header(lib, "planted", SocketType::Req, &changed, &rep, &exes)
            .await
            .unwrap_err();
        assert!(e.contains("the vector says"), "{}: {e}", lib.name());
        let req = hex_field("00 53 50 00 00 30 00 00").unwrap();
        header(lib, "handshake.req", SocketType::Req, &req, &rep, &exes)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", lib.name()));
        // A backtrace over the TTL (backtrace.ttl-9-rejected) claimed to be delivered.
        let words: Vec<u8> = (0x63u32..=0x6a)
            .chain([0x8000_0337])
            .flat_map(u32::to_be_bytes)
            .chain([b'x'])
            .collect();
        let e = replay_payload(
            lib,
            "planted",
            SocketType::Req,
            &words,
            Some(b"x".to_vec()),
            &exes,
        )
        .await
        .unwrap_err();
        assert!(e.contains("nothing delivered"), "{}: {e}", lib.name());
        replay_payload(lib, "ttl-9", SocketType::Req, &words, None, &exes)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", lib.name()));
        // An upgrade vector whose accept key is changed (the first letter only).
        let good = serde_json::json!({
            "id": "planted-upgrade",
            "request": "GET / HTTP/1.1\r\nHost: 127.0.0.1:5555\r\nUpgrade: websocket\r\n\
                        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: rep.sp.nanomsg.org\r\n\r\n",
            "response": "HTTP/1.1 101 Switching Protocols\r\n\
                         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
        });
        upgrade(lib, &good, &exes)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", lib.name()));
        let mut changed = good.clone();
        changed["response"] =
            serde_json::Value::from(good["response"].as_str().unwrap().replace("s3pP", "t3pP"));
        let e = upgrade(lib, &changed, &exes).await.unwrap_err();
        assert!(e.contains("want 101"), "{}: {e}", lib.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_the_real_libraries() {
    let exes = exes();
    let nanomsg = Peer::start(Lib::Nanomsg, &exes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nanomsg.info.lib, "nanomsg");
    assert!(
        nanomsg.info.version.starts_with("abi-5."),
        "{:?}",
        nanomsg.info
    );
    assert!(
        nanomsg.info.file.contains("libnanomsg.so"),
        "{:?}",
        nanomsg.info
    );
    let nanomsg_info = nanomsg.info.clone();
    nanomsg.quit().await;
    let nng = Peer::start(Lib::Nng, &exes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(nng.info.lib, "nng");
    assert!(
        nng.info.version.starts_with("1."),
        "NNG 1.x expected: {:?}",
        nng.info
    );
    assert!(nng.info.file.contains("libnng.so"), "{:?}", nng.info);
    // Debian's packages name the release the ABI version hides (the report shows it).
    if nng.info.file.starts_with("/usr/lib/") {
        let (package, version) = debian_package(&nng.info.file)
            .unwrap_or_else(|| panic!("no Debian package owns {}", nng.info.file));
        assert_eq!(
            release_of(&version),
            nng.info.version,
            "{package} {version}"
        );
    }
    if nanomsg_info.file.starts_with("/usr/lib/") {
        let (package, version) = debian_package(&nanomsg_info.file)
            .unwrap_or_else(|| panic!("no Debian package owns {}", nanomsg_info.file));
        assert!(
            release_of(&version).starts_with("1."),
            "{package} {version}"
        );
    }
    nng.quit().await;
}

#[tokio::test]
async fn a_peer_that_cannot_run_fails_with_the_install_hint() {
    for exe in ["/bin/false", "/nonexistent/nanomsg-peer"] {
        let exes = PeerExes {
            nanomsg: exe.into(),
            nng: exe.into(),
            capi_dir: None,
        };
        let err = Peer::start(Lib::Nanomsg, &exes).await.unwrap_err();
        assert!(err.contains("apt-get install libnanomsg-dev"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_capi_peer_runs_our_library() {
    let exes = exes();
    let peer = Peer::start_on(Lib::Nanomsg, &exes, &Loader::OurCapi(capi_dir()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let ours = std::fs::canonicalize(capi_dir().join("libnanomsg.so.5")).expect("our library");
    assert_eq!(
        peer.info.file,
        ours.display().to_string(),
        "{:?}",
        peer.info
    );
    assert!(
        peer.info
            .sp_rs
            .as_deref()
            .is_some_and(|v| v.starts_with("sp-rs ")),
        "{:?}",
        peer.info
    );
    assert_eq!(peer.name(), "sp-capi");
    peer.quit().await;
}

/// Planted fault: a "C API" directory that serves the real libnanomsg under the soname.
/// The peer starts and talks, but the check refuses it, so its cells fail instead of
/// passing against the wrong library.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capi_cell_on_the_real_library_fails() {
    let exes = exes();
    let real = Peer::start(Lib::Nanomsg, &exes)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(real.info.sp_rs, None, "{:?}", real.info);
    let wrong = capi_lib_dir(std::path::Path::new(&real.info.file), "planted-wrong-lib")
        .unwrap_or_else(|e| panic!("{e}"));
    real.quit().await;
    let err = Peer::start_on(Lib::Nanomsg, &exes, &Loader::OurCapi(wrong.clone()))
        .await
        .unwrap_err();
    assert!(err.contains("is not running sp-rs's libnanomsg"), "{err}");
    let planted = PeerExes {
        capi_dir: Some(wrong.clone()),
        ..exes
    };
    let cell = Cell {
        ours: OurSide::CApi,
        lib: Lib::Nng,
        pattern: Pattern::PushPull,
        ours_first: true,
        ours_listens: true,
        transport: &TRANSPORTS[0],
    };
    let err = run_cell(&cell, &planted).await.unwrap_err();
    assert!(err.contains("is not running sp-rs's libnanomsg"), "{err}");
    let _ = std::fs::remove_dir_all(wrong);
}

#[test]
fn each_peer_links_exactly_one_library() {
    let exes = exes();
    for (lib, other) in [(Lib::Nanomsg, Lib::Nng), (Lib::Nng, Lib::Nanomsg)] {
        let exe = exes.get(lib);
        let out = std::process::Command::new("ldd")
            .arg(exe)
            .output()
            .unwrap_or_else(|e| panic!("cannot run ldd: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        let links = |name: &str| {
            text.lines()
                .any(|l| l.trim_start().starts_with(&format!("lib{name}.so")))
        };
        assert!(
            links(lib.name()),
            "{} does not link lib{}.so (install it with `apt-get install {}` and rebuild):\n{text}",
            exe.display(),
            lib.name(),
            lib.deb()
        );
        assert!(
            !links(other.name()),
            "{} also links lib{}.so:\n{text}",
            exe.display(),
            other.name()
        );
        assert!(!text.contains("not found"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matrix() {
    let exes = Arc::new(exes());
    let mut peers = Vec::new();
    let mut notes = Vec::new();
    let mut nng_tls = true;
    for lib in Lib::ALL {
        let mut p = Peer::start(lib, &exes)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        peers.push((lib, p.info.clone()));
        if lib == Lib::Nanomsg {
            let capi = Peer::start_on(lib, &exes, &Loader::OurCapi(capi_dir()))
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            peers.push((lib, capi.info.clone()));
            capi.quit().await;
        }
        if lib == Lib::Nng {
            nng_tls = conformance::tls::peer_has_tls(&mut p)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            notes
                .push("contexts: checked against NNG only; libnanomsg has no contexts.".to_owned());
            notes.push(
                "PAIR v1 (polyamorous mode, hop counts through a device chain): checked \
                 against NNG only; libnanomsg has no PAIR v1."
                    .to_owned(),
            );
            notes.push(
                "A newer NNG: NNG 1.11.0 (bundled in PyPI's pynng 0.9.0) is checked by \
                 `cargo test -p conformance --test pynng`, outside this report: REQ/REP and \
                 PAIR v1, each side listening, over tcp, ws and path-less ws (12 cells), and \
                 the empty request target it still sends for a path-less ws URL."
                    .to_owned(),
            );
            if !nng_tls {
                notes.push(
                    "tls+tcp and wss: not supported by the Debian build of NNG (nng_tls_config_alloc \
                     fails), so their cells are left out."
                        .to_owned(),
                );
            }
        }
        p.quit().await;
    }
    // SP_CONFORMANCE_ONLY=<text> runs only the cells whose description contains it.
    let only = std::env::var("SP_CONFORMANCE_ONLY").ok();
    let cells: Vec<_> = all_cells()
        .into_iter()
        .filter(|c| {
            only.as_ref()
                .is_none_or(|o| c.describe().contains(o.as_str()))
        })
        .filter(|c| nng_tls || !c.transport.tls)
        .collect();
    // Checks that time nothing run alongside the cells (queued first: they are the
    // longest); those that time deadlines and resends run after the matrix, two at a time.
    let mut check_list = Vec::new();
    for check in Check::ALL {
        for lib in Lib::ALL {
            if !check.applies(lib) {
                continue;
            }
            let name = format!("{} ({})", check.name(), lib.name());
            if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
                continue;
            }
            check_list.push((check, lib, name));
        }
    }
    // A filter that selects nothing is a typo, not a pass.
    assert!(
        !cells.is_empty() || !check_list.is_empty(),
        "SP_CONFORMANCE_ONLY={:?} matches no cell and no check (cells are described like \
         \"nng REQ/REP: ours=rep listens, tcp\", or sp-capi=rep in the C API cells)",
        only.as_deref().unwrap_or_default()
    );
    let spawn_check = |gate: Arc<tokio::sync::Semaphore>,
                       (check, lib, name): (Check, Lib, String)| {
        let exes = exes.clone();
        tokio::spawn(async move {
            let _permit = gate.acquire().await;
            let outcome = tokio::time::timeout(CELL_LIMIT, check.run(lib, &exes))
                .await
                .unwrap_or_else(|_| Err(format!("timed out after {CELL_LIMIT:?}")));
            CheckResult { name, outcome }
        })
    };
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let (timed, untimed): (Vec<_>, Vec<_>) = check_list.into_iter().partition(|c| c.0.timed());
    let untimed_tasks: Vec<_> = untimed
        .into_iter()
        .map(|c| spawn_check(gate.clone(), c))
        .collect();
    let mut tasks = Vec::new();
    for cell in cells.iter().copied() {
        let gate = gate.clone();
        let exes = exes.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            let attempt = || async {
                tokio::time::timeout(CELL_LIMIT, run_cell(&cell, &exes))
                    .await
                    .unwrap_or_else(|_| Err(format!("timed out after {CELL_LIMIT:?}")))
            };
            // One retry for a failed cell (timing margins under load); the report shows
            // every retry with the first attempt's failure.
            match attempt().await {
                Ok(()) => CellResult {
                    cell,
                    outcome: Ok(()),
                    retried: None,
                },
                Err(first) => CellResult {
                    cell,
                    outcome: attempt().await,
                    retried: Some(first),
                },
            }
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.expect("cell task panicked"));
    }
    let mut checks = Vec::new();
    for t in untimed_tasks {
        checks.push(t.await.expect("check task panicked"));
    }
    let gate = Arc::new(tokio::sync::Semaphore::new(2));
    let timed_tasks: Vec<_> = timed
        .into_iter()
        .map(|c| spawn_check(gate.clone(), c))
        .collect();
    for t in timed_tasks {
        checks.push(t.await.expect("check task panicked"));
    }
    // Report order: as listed in Check::ALL.
    let order = |name: &str| {
        Check::ALL
            .iter()
            .position(|c| name.starts_with(c.name()))
            .unwrap_or(usize::MAX)
    };
    checks.sort_by_key(|c| order(&c.name));
    let report = render(&today(), &peers, &results, &checks, &notes);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(dir.join("conformance.md"), &report).expect("write report");
    if std::env::var_os("SP_CONFORMANCE_WRITE_DOC").is_some() && only.is_none() {
        let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/conformance.md");
        std::fs::write(&doc, &report).expect("write docs/conformance.md");
    }
    let retried = results.iter().filter(|r| r.retried.is_some()).count();
    let cells_passed = results.iter().filter(|r| r.outcome.is_ok()).count();
    let checks_passed = checks.iter().filter(|c| c.outcome.is_ok()).count();
    // The summary on the terminal, also when the test passes: written to stderr itself,
    // which the test harness does not capture (it captures `eprintln!`).
    let _ = writeln!(
        std::io::stderr(),
        "conformance: {cells_passed} of {} cells pass ({retried} after a retry), \
         {checks_passed} of {} checks pass; report: {}",
        results.len(),
        checks.len(),
        dir.join("conformance.md").display()
    );
    let failed: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.outcome
                .as_ref()
                .err()
                .map(|e| format!("{}: {e}", r.cell.describe()))
        })
        .chain(
            checks
                .iter()
                .filter_map(|c| c.outcome.as_ref().err().map(|e| format!("{}: {e}", c.name))),
        )
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} cells and checks failed:\n{}",
        failed.len(),
        results.len() + checks.len(),
        failed.join("\n")
    );
}
