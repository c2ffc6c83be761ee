//! The `spcat` binary, run for real: pairs of processes over loopback TCP and IPC, the
//! echo formats byte for byte, every socket type's loop, and nanocat's error messages
//! and exit statuses.
//!
//! Listeners bind port 0 and report the bound address with `-v` (`Listening at: URL`
//! on stderr); dialers start after that line and retry connecting by themselves.
//! Processes end on their own through `--count` or the end of a request; those that
//! repeat (`-i`) are killed once the other side has finished. Every wait is bounded and
//! every child is killed when its handle is dropped.

#![cfg(unix)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_spcat");
/// Upper bound for anything to happen; a hang fails the test instead of blocking it.
const LIMIT: Duration = Duration::from_secs(20);

/// A running spcat whose output is collected in the background; killed on drop.
struct Proc {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stdout_events: Receiver<()>,
    stdout_reader: Option<JoinHandle<()>>,
    stderr_lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
}

struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

fn start<S: AsRef<OsStr>>(program: impl AsRef<OsStr>, args: &[S]) -> Proc {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spcat");
    Proc::adopt(child)
}

impl Proc {
    /// Collects the output of a child started with piped stdout and stderr.
    fn adopt(mut child: Child) -> Self {
        let mut out = child.stdout.take().unwrap();
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (out_tx, stdout_events) = channel();
        let sink = stdout.clone();
        let stdout_reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = out.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
                let _ = out_tx.send(());
            }
        });
        let err = BufReader::new(child.stderr.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        let (err_tx, stderr_lines) = channel();
        let sink = stderr.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in err.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push_str(&format!("{line}\n"));
                let _ = err_tx.send(line);
            }
        });
        Self {
            child,
            stdout,
            stdout_events,
            stdout_reader: Some(stdout_reader),
            stderr_lines,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }
}

fn spcat<S: AsRef<OsStr>>(args: &[S]) -> Proc {
    start(BIN, args)
}

impl Proc {
    /// Waits for the `Listening at: URL` line that `-v` prints and returns the URL.
    fn listening_url(&self) -> String {
        let deadline = Instant::now() + LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("Listening at: ") {
                        return url.to_owned();
                    }
                }
                Err(_) => panic!("no listener line; stderr: {}", self.stderr()),
            }
        }
    }

    /// The port of the listener (for `-l PORT`).
    fn listening_port(&self) -> String {
        let url = self.listening_url();
        url.rsplit(':').next().unwrap().to_owned()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until standard output satisfies `done`.
    fn wait_stdout(&self, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + LIMIT;
        loop {
            let out = self.stdout.lock().unwrap().clone();
            if done(&out) {
                return out;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.stdout_events.recv_timeout(left).is_err() {
                panic!(
                    "stdout never matched: {:?}; stderr: {}",
                    String::from_utf8_lossy(&out),
                    self.stderr()
                );
            }
        }
    }

    /// Waits for the process to exit by itself (at most [`LIMIT`]).
    fn finish(mut self) -> Finished {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "spcat did not exit; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        self.collect(status)
    }

    /// Kills the process (it repeats forever) and returns what it printed.
    fn stop(mut self) -> Finished {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.collect(status)
    }

    fn collect(&mut self, status: ExitStatus) -> Finished {
        if let Some(h) = self.stdout_reader.take() {
            h.join().unwrap();
        }
        if let Some(h) = self.stderr_reader.take() {
            h.join().unwrap();
        }
        Finished {
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Finished {
    fn ok(self) -> Self {
        assert!(
            self.status.success(),
            "{:?}; stderr: {}",
            self.status,
            self.stderr
        );
        self
    }
}

fn temp_path(tag: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("spcat-test-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Bytes that exercise every escaping rule, including one that is not UTF-8.
const TRICKY: &[u8] = b"Hi \"x\" \\ \n\r\t\x01\xff~";

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

/// PULL listens with `format`, PUSH sends `data` once; returns what PULL printed.
fn push_pull(listen: &[&str], connect: &[&str], format: &[&str], data: &[u8]) -> Vec<u8> {
    let mut pull_args: Vec<&OsStr> = vec![os(b"--pull"), os(b"-v"), os(b"--count"), os(b"1")];
    pull_args.extend(listen.iter().map(OsStr::new));
    pull_args.extend(format.iter().map(OsStr::new));
    let pull = spcat(&pull_args);
    let url = pull.listening_url();
    let mut push_args: Vec<&OsStr> = vec![os(b"--push"), os(b"--data"), os(data)];
    push_args.extend(connect.iter().map(OsStr::new));
    let target = if connect.is_empty() {
        vec![OsStr::new("--connect"), OsStr::new(&url)]
    } else {
        Vec::new()
    };
    push_args.extend(target);
    let push = spcat(&push_args);
    let out = pull.finish().ok();
    push.finish().ok();
    out.stdout
}

fn tcp() -> [&'static str; 2] {
    ["--bind", "tcp://127.0.0.1:0"]
}

#[test]
fn ascii_replaces_non_printables_with_dots() {
    assert_eq!(
        push_pull(&tcp(), &[], &["--ascii"], TRICKY),
        b"Hi \"x\" \\ .....~\n"
    );
    assert_eq!(push_pull(&tcp(), &[], &["-A"], b""), b"\n");
}

#[test]
fn quoted_escapes_like_nanocat() {
    assert_eq!(
        push_pull(&tcp(), &[], &["--quoted"], TRICKY),
        b"\"Hi \\\"x\\\" \\\\ \\n\\r\\x09\\x01\\xff~\"\n"
    );
    assert_eq!(
        push_pull(&tcp(), &[], &["--format=quoted"], b"plain"),
        b"\"plain\"\n"
    );
}

#[test]
fn hex_prints_every_byte() {
    assert_eq!(
        push_pull(&tcp(), &[], &["--hex"], b"A\n\xfe"),
        b"\"\\x41\\x0a\\xfe\"\n"
    );
}

#[test]
fn raw_prints_bytes_without_a_delimiter() {
    assert_eq!(push_pull(&tcp(), &[], &["--raw"], TRICKY), TRICKY);
    assert_eq!(push_pull(&tcp(), &[], &["--format", "no"], TRICKY), b"");
    assert_eq!(
        push_pull(&tcp(), &[], &[], TRICKY),
        b"",
        "no echo by default"
    );
}

#[test]
fn msgpack_bin8_and_bin16_from_a_file() {
    assert_eq!(
        push_pull(&tcp(), &[], &["--msgpack"], b"hey"),
        b"\xc4\x03hey"
    );
    let body: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    let file = temp_path("msgpack-300");
    std::fs::write(&file, &body).unwrap();
    let pull = spcat(&[
        "--pull",
        "-v",
        "-C",
        "1",
        "--bind",
        "tcp://127.0.0.1:0",
        "--msgpack",
    ]);
    let url = pull.listening_url();
    let push = spcat(&[
        OsStr::new("--push"),
        OsStr::new("--connect"),
        OsStr::new(&url),
        OsStr::new("-F"),
        file.as_os_str(),
    ]);
    let out = pull.finish().ok().stdout;
    push.finish().ok();
    let mut want = vec![0xc5, 0x01, 0x2c];
    want.extend_from_slice(&body);
    assert_eq!(out, want);
    let _ = std::fs::remove_file(file);
}

#[test]
fn push_pull_over_ipc_with_the_short_flags() {
    let path = temp_path("ipc.sock");
    let p = path.to_str().unwrap();
    let pull = spcat(&["--pull", "-v", "-X", p, "-C", "2", "-Q"]);
    pull.listening_url();
    spcat(&["--push", "-x", p, "-D", "one"]).finish().ok();
    spcat(&["--push", "--connect-ipc", p, "-D", "two"])
        .finish()
        .ok();
    assert_eq!(pull.finish().ok().stdout, b"\"one\"\n\"two\"\n");
    let _ = std::fs::remove_file(path);
}

#[test]
fn req_rep_round_trip_over_local_ports() {
    let rep = spcat(&[
        "--rep", "-v", "-L", "0", "--data", "pong", "-A", "--count", "1",
    ]);
    let port = rep.listening_port();
    let req = spcat(&["--req", "-l", &port, "--data", "ping", "--quoted"]);
    // REQ ends by itself: after the reply, nothing more can arrive.
    assert_eq!(req.finish().ok().stdout, b"\"pong\"\n");
    assert_eq!(rep.finish().ok().stdout, b"ping\n");
}

#[test]
fn req_rounds_with_count() {
    let rep = spcat(&[
        "--rep",
        "-v",
        "--bind",
        "tcp://127.0.0.1:0",
        "-D",
        "r",
        "-A",
        "-C",
        "3",
    ]);
    let url = rep.listening_url();
    let req = spcat(&["--req0", "--dial", &url, "-D", "q", "-A", "--count", "3"]);
    assert_eq!(req.finish().ok().stdout, b"r\nr\nr\n");
    assert_eq!(rep.finish().ok().stdout, b"q\nq\nq\n");
}

#[test]
fn sub_receives_only_its_prefixes() {
    let sub = spcat(&[
        "--sub",
        "-v",
        "--bind",
        "tcp://127.0.0.1:0",
        "--subscribe",
        "ap",
        "-A",
        "--count",
        "3",
    ]);
    let url = sub.listening_url();
    let apple = spcat(&["--pub", "--connect", &url, "-D", "apple", "-i", "0.02"]);
    let banana = spcat(&["--pub", "--connect", &url, "-D", "banana", "-i", "0.02"]);
    assert_eq!(sub.finish().ok().stdout, b"apple\napple\napple\n");
    apple.stop();
    banana.stop();
}

#[test]
fn surveyor_collects_a_response_every_interval() {
    let surveyor = spcat(&[
        "--surveyor",
        "-v",
        "--bind",
        "tcp://127.0.0.1:0",
        "-D",
        "who?",
        "-i",
        "0.1",
        "-A",
    ]);
    let url = surveyor.listening_url();
    let respondent = spcat(&[
        "--respondent",
        "--connect",
        &url,
        "-D",
        "me",
        "-Q",
        "-C",
        "1",
    ]);
    assert_eq!(respondent.finish().ok().stdout, b"\"who?\"\n");
    surveyor.wait_stdout(|o| o == b"me\n");
    assert_eq!(surveyor.stop().stdout, b"me\n");
}

#[test]
fn surveyor_without_interval_ends_at_the_deadline() {
    let surveyor = spcat(&[
        "--surveyor",
        "-v",
        "--bind",
        "tcp://127.0.0.1:0",
        "-D",
        "anyone?",
    ]);
    let started = Instant::now();
    surveyor.listening_url();
    surveyor.finish().ok();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the 1 s survey deadline"
    );
}

#[test]
fn bus_reads_what_a_peer_broadcasts() {
    let listener = spcat(&[
        "--bus",
        "-v",
        "--bind",
        "tcp://127.0.0.1:0",
        "-A",
        "-C",
        "2",
    ]);
    let url = listener.listening_url();
    let talker = spcat(&["--bus", "--connect", &url, "-D", "hello", "-i", "0.02"]);
    assert_eq!(listener.finish().ok().stdout, b"hello\nhello\n");
    talker.stop();
}

#[test]
fn pair_both_sides_send_and_receive() {
    for kind in ["--pair", "--pair1"] {
        let a = spcat(&[
            kind,
            "-v",
            "--bind",
            "tcp://127.0.0.1:0",
            "-D",
            "from-a",
            "-A",
            "-C",
            "1",
        ]);
        let url = a.listening_url();
        let b = spcat(&[kind, "--connect", &url, "-D", "from-b", "-A", "-C", "1"]);
        assert_eq!(a.finish().ok().stdout, b"from-b\n", "{kind}");
        assert_eq!(b.finish().ok().stdout, b"from-a\n", "{kind}");
    }
}

#[test]
fn socket_type_from_the_program_name() {
    let dir = temp_path("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("nn_pull");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let pull = start(
        &link,
        &["-v", "--bind", "tcp://127.0.0.1:0", "-A", "-C", "1"],
    );
    let url = pull.listening_url();
    spcat(&["--push", "--connect", &url, "-D", "via nn_pull"])
        .finish()
        .ok();
    assert_eq!(pull.finish().ok().stdout, b"via nn_pull\n");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn fractional_receive_timeout_is_kept() {
    // nanocat truncates 0.3 s to 0 and would return at once.
    let started = Instant::now();
    let sub = spcat(&[
        "--sub",
        "--bind",
        "tcp://127.0.0.1:0",
        "--recv-timeout",
        "0.3",
    ]);
    let done = sub.finish().ok();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(done.stdout.is_empty());
}

#[test]
fn rep_answering_times_out_with_nanocat_error() {
    let rep = spcat(&[
        "--rep",
        "--bind",
        "tcp://127.0.0.1:0",
        "-D",
        "x",
        "--recv-timeout",
        "0.05",
    ]);
    let done = rep.finish();
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(done.stderr, "Can't recv: Connection timed out\n");
}

#[test]
fn tls_round_trip() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert_file = temp_path("tls-cert.pem");
    let key_file = temp_path("tls-key.pem");
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let (c, k) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
    let rep = spcat(&[
        "--rep",
        "-v",
        "--listen",
        "tls+tcp://127.0.0.1:0",
        "-E",
        c,
        "--key",
        k,
        "-D",
        "secret",
        "-C",
        "2",
        "-A",
    ]);
    let url = rep.listening_url();
    let verified = spcat(&["--req", "--dial", &url, "--cacert", c, "-D", "one", "-A"]);
    assert_eq!(verified.finish().ok().stdout, b"secret\n");
    let insecure = spcat(&["--req", "--dial", &url, "-k", "-D", "two", "-A"]);
    assert_eq!(insecure.finish().ok().stdout, b"secret\n");
    assert_eq!(rep.finish().ok().stdout, b"one\ntwo\n");
    let _ = std::fs::remove_file(cert_file);
    let _ = std::fs::remove_file(key_file);
}

/// Runs spcat with `args` and expects it to fail with `code` and exactly `stderr`.
fn fails(args: &[&str], code: i32, stderr: &str) {
    let done = spcat(args).finish();
    assert_eq!(done.status.code(), Some(code), "{args:?}: {}", done.stderr);
    assert_eq!(done.stderr, stderr, "{args:?}");
    assert!(done.stdout.is_empty());
}

#[test]
fn command_line_errors() {
    // Each bad command line and what spcat says after its name (exit code 1).
    let cases: &[(&[&str], &str)] = &[
        (
            &["--pull", "-l", "1", "--frobnicate"],
            "Unknown option ``--frobnicate''\n",
        ),
        (&["--pull", "-l", "1", "-z"], "Unknown option ``-z''\n"),
        (
            &["--pull", "-l", "1", "extra"],
            "Unexpected argument ``extra''\n",
        ),
        (
            &["--push", "--pull", "-l", "1"],
            "Option --pull conflicts with the following options:\n    --push \n",
        ),
        (
            &["--pull", "--bind"],
            "Option --bind requires an argument\n",
        ),
        (
            &["--pull", "-l", "1", "--recv-timeout=abc"],
            "Option --recv-timeout=abc requires float point argument\n",
        ),
        (
            &["--push", "-l", "1"],
            "Option --push requires at least one of the following options:\n    --data\n    -D\n    --file\n    -F\n",
        ),
    ];
    for (argv, message) in cases {
        fails(argv, 1, &format!("{BIN}: {message}"));
    }
    let no_type = spcat(&["--bind", "tcp://127.0.0.1:0"]).finish();
    assert_eq!(no_type.status.code(), Some(1));
    assert!(
        no_type.stderr.starts_with(&format!(
            "{BIN}: At least one of the following required:\n    --push\n    --pull\n"
        )),
        "{}",
        no_type.stderr
    );
    assert!(!no_type.stderr.contains("--bind"), "{}", no_type.stderr);
    let no_endpoint = spcat(&["--pull"]).finish();
    assert_eq!(no_endpoint.status.code(), Some(1));
    assert!(
        no_endpoint.stderr.starts_with(&format!(
            "{BIN}: At least one of the following required:\n    --bind\n    --connect\n"
        )),
        "{}",
        no_endpoint.stderr
    );
    fails(
        &["--push", "-l", "1", "-F", "/nonexistent/spcat"],
        2,
        "Error opening file ``/nonexistent/spcat'': No such file or directory\n",
    );
}

#[test]
fn endpoint_errors() {
    fails(
        &["--pull", "--connect", "nowhere"],
        3,
        "Can't connect: Invalid argument (\"nowhere\" is not a URL (expected scheme://address))\n",
    );
    fails(
        &["--pull", "--bind", "tcp://127.0.0.1:70000"],
        3,
        "Can't bind: Invalid argument (bad or missing port in \"tcp://127.0.0.1:70000\")\n",
    );
    fails(
        &["--pull", "-L", "x"],
        3,
        "Can't bind: Invalid argument (bad or missing port in \"tcp://127.0.0.1:x\")\n",
    );
    fails(&["--pull", "--bind", "carrier://pigeon"], 3, "Can't bind: Protocol not supported (unsupported transport \"carrier\" (use tcp, ipc, inproc, ws, wss or tls+tcp))\n");
    // A port already in use.
    let first = spcat(&["--pull", "-v", "--bind", "tcp://127.0.0.1:0"]);
    let url = first.listening_url();
    fails(
        &["--pull", "--bind", &url],
        3,
        "Can't bind: Address already in use\n",
    );
    first.stop();
}

#[test]
fn help_and_version() {
    let help = spcat(&["--help"]).finish().ok();
    let text = String::from_utf8(help.stdout).unwrap();
    assert!(
        text.starts_with(&format!("Usage:\n    {BIN} {{--push|--pull|")),
        "{text}"
    );
    for flag in [
        "--bind-local,-L PORT",
        "--format FORMAT",
        "--msgpack",
        "--count,-C COUNT",
        "--pair1",
        "--insecure,-k",
    ] {
        assert!(text.contains(flag), "{flag}");
    }
    let short = spcat(&["-h"]).finish().ok();
    assert_eq!(short.stdout, text.as_bytes());
    let version = spcat(&["-V"]).finish().ok();
    assert_eq!(
        version.stdout,
        format!("{}\n", env!("CARGO_PKG_VERSION")).as_bytes()
    );
    assert_eq!(spcat(&["--version"]).finish().ok().stdout, version.stdout);
}

#[test]
fn data_from_standard_input() {
    use std::io::Write;
    let pull = spcat(&[
        "--pull",
        "-v",
        "--bind",
        "tcp://127.0.0.1:0",
        "--hex",
        "-C",
        "1",
    ]);
    let url = pull.listening_url();
    let mut push = Command::new(BIN)
        .args(["--push", "--connect", &url, "--file", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    push.stdin.take().unwrap().write_all(b"\x00stdin").unwrap();
    let guard = Proc::adopt(push);
    guard.finish().ok();
    assert_eq!(
        pull.finish().ok().stdout,
        b"\"\\x00\\x73\\x74\\x64\\x69\\x6e\"\n"
    );
}
