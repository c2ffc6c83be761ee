//! The command line, parsed the way nanocat parses it (`tools/options.c`): one table of
//! options whose masks say what each provides, conflicts with and requires; long options
//! with `=value` or a separate value and unique-prefix abbreviation; short options that
//! may be clustered (`-vv`) or take their value attached (`-d1`); socket type from
//! `argv[0]` (`nn_push`, ...). The error messages and exit codes are nanocat's. nngcat's
//! extra names and options are in the same table.

use std::time::Duration;

use sp_net::SocketType;
use sp_proto::wire::MaxRecvSize;

use crate::format::Format;
use crate::help::help;
use crate::options::{Action, OPTIONS, REQUIRED};

/// Everything the command line asked for.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Config {
    /// `-v` count minus `-q` count.
    pub(crate) verbose: i32,
    /// The socket type.
    pub(crate) socket_type: SocketType,
    /// Addresses to listen on, in order.
    pub(crate) binds: Vec<String>,
    /// Addresses to dial, in order.
    pub(crate) connects: Vec<String>,
    /// Send timeout (`None`: wait forever).
    pub(crate) send_timeout: Option<Duration>,
    /// Receive timeout (`None`: wait forever).
    pub(crate) recv_timeout: Option<Duration>,
    /// `--socket-name`, accepted for compatibility.
    pub(crate) socket_name: Option<String>,
    /// SUB prefixes (one empty prefix when none were given).
    pub(crate) subscriptions: Vec<Vec<u8>>,
    /// How received messages are echoed.
    pub(crate) format: Format,
    /// What to send (`--data`/`--file`).
    pub(crate) data: Option<Vec<u8>>,
    /// Repeat period (`None`: send once).
    pub(crate) interval: Option<Duration>,
    /// Pause after the endpoints are set up.
    pub(crate) delay: Duration,
    /// `--count` (0: no limit).
    pub(crate) count: u64,
    /// `--recv-maxsz`.
    pub(crate) recv_max: Option<MaxRecvSize>,
    /// TLS: skip verifying the server.
    pub(crate) insecure: bool,
    /// TLS: own certificate chain (PEM).
    pub(crate) cert: Option<Vec<u8>>,
    /// TLS: own key (PEM).
    pub(crate) key: Option<Vec<u8>>,
    /// TLS: trusted CA certificates (PEM).
    pub(crate) cacert: Option<Vec<u8>>,
}

/// Why parsing stopped without a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Print this on standard output and exit with status 0 (`--help`, `--version`).
    Print(String),
    /// Print this on standard error and exit with `code`.
    Fail {
        /// The message, without the final newline.
        message: String,
        /// The exit status (1: usage, 2: unreadable file).
        code: i32,
    },
}

/// How an option was written, for error messages.
#[derive(Clone, Debug)]
enum Usage {
    /// The whole argument, e.g. `--recv-t=5`.
    Long(Vec<u8>),
    Short(u8),
    Arg0,
}

/// Reads a file, or standard input for `-`.
pub(crate) fn read_file(path: &[u8]) -> Result<Vec<u8>, Stop> {
    use std::io::Read;
    let shown = String::from_utf8_lossy(path).into_owned();
    let fail = |what: &str, e: std::io::Error| Stop::Fail {
        message: format!("Error {what} file ``{shown}'': {}", strerror(&e)),
        code: 2,
    };
    if path == b"-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| fail("reading", e))?;
        return Ok(buf);
    }
    let mut file = std::fs::File::open(os_path(path)).map_err(|e| fail("opening", e))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf).map_err(|e| fail("reading", e))?;
    Ok(buf)
}

#[cfg(unix)]
fn os_path(p: &[u8]) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(p).into()
}

#[cfg(not(unix))]
fn os_path(p: &[u8]) -> std::path::PathBuf {
    String::from_utf8_lossy(p).into_owned().into()
}

/// The C library's text for an I/O error (`strerror`), without Rust's `(os error N)`.
pub(crate) fn strerror(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_owned(),
        _ => s,
    }
}

struct Parser<'a> {
    argv0: String,
    args: &'a [Vec<u8>],
    pos: usize,
    mask: u32,
    used: Vec<Option<Usage>>,
    cfg: Config,
    socket_type: Option<SocketType>,
}

/// Parses `args` (`args[0]` is the program name).
pub(crate) fn parse(args: &[Vec<u8>]) -> Result<Config, Stop> {
    let argv0 = args
        .first()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .unwrap_or_else(|| "spcat".to_owned());
    let mut p = Parser {
        argv0,
        args,
        pos: 1,
        mask: 0,
        used: vec![None; OPTIONS.len()],
        cfg: Config {
            verbose: 0,
            socket_type: SocketType::Pair0,
            binds: Vec::new(),
            connects: Vec::new(),
            send_timeout: None,
            recv_timeout: None,
            socket_name: None,
            subscriptions: Vec::new(),
            format: Format::No,
            data: None,
            interval: None,
            delay: Duration::ZERO,
            count: 0,
            recv_max: None,
            insecure: false,
            cert: None,
            key: None,
            cacert: None,
        },
        socket_type: None,
    };
    p.parse_arg0()?;
    while p.pos < args.len() {
        let arg = &args[p.pos];
        p.pos += 1;
        p.parse_arg(arg)?;
    }
    p.check_requires()?;
    let mut cfg = p.cfg;
    cfg.socket_type = p.socket_type.unwrap_or(SocketType::Pair0);
    if cfg.subscriptions.is_empty() {
        cfg.subscriptions.push(Vec::new());
    }
    if cfg.cert.is_some() && cfg.key.is_none() {
        cfg.key.clone_from(&cfg.cert);
    }
    Ok(cfg)
}

impl Parser<'_> {
    fn fail(&self, message: String) -> Stop {
        Stop::Fail { message, code: 1 }
    }

    fn parse_arg0(&mut self) -> Result<(), Stop> {
        let base = self.argv0.rsplit('/').next().unwrap_or_default().to_owned();
        for (i, o) in OPTIONS.iter().enumerate() {
            if o.arg0 == Some(base.as_str()) {
                self.used[i] = Some(Usage::Arg0);
                self.process(i, None)?;
            }
        }
        Ok(())
    }

    fn parse_arg(&mut self, arg: &[u8]) -> Result<(), Stop> {
        match arg {
            [b'-', b'-'] => Ok(()), // nanocat skips a bare `--`
            [b'-', b'-', ..] => self.parse_long(arg),
            [b'-', rest @ ..] => {
                let mut rest = rest;
                while let Some((&c, tail)) = rest.split_first() {
                    rest = self.parse_short(c, tail)?;
                }
                Ok(())
            }
            _ => Err(self.fail(format!(
                "{}: Unexpected argument ``{}''",
                self.argv0,
                String::from_utf8_lossy(arg)
            ))),
        }
    }

    /// Handles one short option; returns what is left of the cluster.
    fn parse_short<'b>(&mut self, c: u8, tail: &'b [u8]) -> Result<&'b [u8], Stop> {
        let Some(i) = OPTIONS.iter().position(|o| o.short == Some(c)) else {
            return Err(self.fail(format!(
                "{}: Unknown option ``-{}''",
                self.argv0,
                char::from(c)
            )));
        };
        self.used[i] = Some(Usage::Short(c));
        if !OPTIONS[i].action.has_arg() {
            self.process(i, None)?;
            return Ok(tail);
        }
        if !tail.is_empty() {
            self.process(i, Some(tail))?;
        } else if let Some(value) = self.args.get(self.pos) {
            self.pos += 1;
            self.process(i, Some(value))?;
        } else {
            return Err(self.option_error(i, "requires an argument"));
        }
        Ok(&[])
    }

    fn parse_long(&mut self, arg: &[u8]) -> Result<(), Stop> {
        let body = &arg[2..];
        let split = body.iter().position(|&b| b == b'=' || b == b':');
        let name = &body[..split.unwrap_or(body.len())];
        let value = split.map(|i| &body[i + 1..]);
        let candidates: Vec<usize> = if name.is_empty() {
            Vec::new()
        } else if let Some(i) = OPTIONS.iter().position(|o| o.long.as_bytes() == name) {
            vec![i]
        } else {
            (0..OPTIONS.len())
                .filter(|&i| OPTIONS[i].long.as_bytes().starts_with(name))
                .collect()
        };
        let Some(&first) = candidates.first() else {
            return Err(self.fail(format!(
                "{}: Unknown option ``{}''",
                self.argv0,
                String::from_utf8_lossy(arg)
            )));
        };
        // A prefix shared by aliases of one option (`--surv`: surveyor, surveyor0) is
        // not ambiguous.
        if candidates
            .iter()
            .any(|&i| OPTIONS[i].action != OPTIONS[first].action)
        {
            let mut message = format!(
                "{}: Ambiguous option ``{}'':",
                self.argv0,
                String::from_utf8_lossy(arg)
            );
            for &i in &candidates {
                message.push_str(&format!("\n    {}", OPTIONS[i].long));
            }
            return Err(self.fail(message));
        }
        self.used[first] = Some(Usage::Long(arg.to_vec()));
        let has_arg = OPTIONS[first].action.has_arg();
        match value {
            Some(v) if has_arg => self.process(first, Some(v)),
            Some(_) => Err(self.option_error(first, "does not accept argument")),
            None if has_arg => match self.args.get(self.pos) {
                Some(v) => {
                    self.pos += 1;
                    self.process(first, Some(v))
                }
                None => Err(self.option_error(first, "requires an argument")),
            },
            None => self.process(first, None),
        }
    }

    /// How option `i` was written, padded with spaces as nanocat prints it.
    fn shown(&self, i: usize) -> String {
        let o = &OPTIONS[i];
        match &self.used[i] {
            Some(Usage::Long(u)) => {
                let olen = u
                    .iter()
                    .position(|&b| b == b'=' || b == b':')
                    .unwrap_or(u.len());
                if olen != o.long.len() + 2 {
                    format!(
                        " {}[{}] ",
                        String::from_utf8_lossy(&u[..olen]),
                        &o.long[olen.saturating_sub(2).min(o.long.len())..]
                    )
                } else {
                    format!(" {} ", String::from_utf8_lossy(u))
                }
            }
            Some(Usage::Arg0) => format!(" {} (executable) ", self.argv0),
            Some(Usage::Short(c)) => format!(" -{} (--{}) ", char::from(*c), o.long),
            None => format!(" --{} ", o.long),
        }
    }

    fn option_error(&self, i: usize, what: &str) -> Stop {
        self.fail(format!("{}: Option{}{what}", self.argv0, self.shown(i)))
    }

    /// The options that provide any bit of `mask`, one per line (nanocat's list).
    fn list_providers(mask: u32, out: &mut String) {
        for o in OPTIONS.iter().filter(|o| o.provides & mask != 0) {
            out.push_str(&format!("\n    --{}", o.long));
            if let Some(c) = o.short {
                out.push_str(&format!("\n    -{}", char::from(c)));
            }
        }
    }

    fn check_requires(&self) -> Result<(), Stop> {
        for (i, o) in OPTIONS.iter().enumerate() {
            if self.used[i].is_some() && o.requires & self.mask != o.requires {
                let mut message = format!(
                    "{}: Option{}requires at least one of the following options:",
                    self.argv0,
                    self.shown(i)
                );
                Self::list_providers(o.requires, &mut message);
                return Err(self.fail(message));
            }
        }
        if REQUIRED & self.mask != REQUIRED {
            let mut message = format!("{}: At least one of the following required:", self.argv0);
            Self::list_providers(REQUIRED & !self.mask, &mut message);
            return Err(self.fail(message));
        }
        Ok(())
    }

    fn conflict(&self, i: usize) -> Stop {
        let mut message = format!(
            "{}: Option{}conflicts with the following options:",
            self.argv0,
            self.shown(i)
        );
        let mask = OPTIONS[i].conflicts;
        let mut any = false;
        for (j, o) in OPTIONS.iter().enumerate() {
            if j != i && self.used[j].is_some() && o.provides & mask != 0 {
                any = true;
                message.push_str(&format!("\n   {}", self.shown(j)));
            }
        }
        if !any {
            message.push_str(&format!("\n   {}", self.shown(i)));
        }
        self.fail(message)
    }

    fn float(&self, i: usize, value: &[u8]) -> Result<f64, Stop> {
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| !v.is_nan())
            .ok_or_else(|| self.option_error(i, "requires float point argument"))
    }

    fn integer(&self, i: usize, value: &[u8]) -> Result<u64, Stop> {
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or_else(|| self.option_error(i, "requires integer argument"))
    }

    fn process(&mut self, i: usize, value: Option<&[u8]>) -> Result<(), Stop> {
        let o = &OPTIONS[i];
        if self.mask & o.conflicts != 0 {
            return Err(self.conflict(i));
        }
        self.mask |= o.provides;
        let v = value.unwrap_or_default();
        let text = || String::from_utf8_lossy(v).into_owned();
        match o.action {
            Action::Verbose => self.cfg.verbose += 1,
            Action::Silent => self.cfg.verbose -= 1,
            Action::Help => return Err(Stop::Print(help(&self.argv0))),
            Action::Version => return Err(Stop::Print(format!("{}\n", env!("CARGO_PKG_VERSION")))),
            Action::Type(t) => self.socket_type = Some(t),
            Action::Compat | Action::Async => {}
            Action::Bind(prefix) => self.cfg.binds.push(format!("{prefix}{}", text())),
            Action::Connect(prefix) => self.cfg.connects.push(format!("{prefix}{}", text())),
            Action::RecvTimeout => self.cfg.recv_timeout = seconds(self.float(i, v)?),
            Action::SendTimeout => self.cfg.send_timeout = seconds(self.float(i, v)?),
            Action::SocketName => self.cfg.socket_name = Some(text()),
            Action::RecvMaxSize => {
                let n = self.integer(i, v)?;
                self.cfg.recv_max = Some(if n == 0 {
                    MaxRecvSize::Unlimited
                } else {
                    MaxRecvSize::Limited(n)
                });
            }
            Action::Subscribe => self.cfg.subscriptions.push(v.to_vec()),
            Action::FormatName => match Format::from_name(v) {
                Some(f) => self.cfg.format = f,
                None => {
                    let mut message = format!(
                        "{}: Invalid value ``{}'' for{}. Options are:",
                        self.argv0,
                        text(),
                        self.shown(i)
                    );
                    for (name, _) in Format::NAMES {
                        message.push_str(&format!("\n    {name}"));
                    }
                    return Err(self.fail(message));
                }
            },
            Action::Format(f) => self.cfg.format = f,
            Action::Interval => self.cfg.interval = seconds(self.float(i, v)?),
            Action::Delay => {
                self.cfg.delay = seconds(self.float(i, v)?).unwrap_or(Duration::ZERO);
            }
            Action::Data => self.cfg.data = Some(v.to_vec()),
            Action::File => self.cfg.data = Some(read_file(v)?),
            Action::Count => self.cfg.count = self.integer(i, v)?,
            Action::Insecure => self.cfg.insecure = true,
            Action::Cert => self.cfg.cert = Some(read_file(v)?),
            Action::Key => self.cfg.key = Some(read_file(v)?),
            Action::CaCert => self.cfg.cacert = Some(read_file(v)?),
        }
        Ok(())
    }
}

/// Seconds as given on the command line: negative means "not set" (nanocat's -1
/// default), infinity means forever. Fractions are kept (nanocat truncates the receive
/// timeout to whole seconds before scaling it; we do not reproduce that bug).
fn seconds(v: f64) -> Option<Duration> {
    if v < 0.0 || v.is_infinite() {
        None
    } else {
        // Capped at about 31 years so that deadlines computed from it cannot overflow.
        Some(Duration::from_secs_f64(v.min(MAX_SECONDS)))
    }
}

/// The longest time accepted; larger values mean the same as this.
const MAX_SECONDS: f64 = 1e9;

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        std::iter::once("nanocat")
            .chain(list.iter().copied())
            .map(|s| s.as_bytes().to_vec())
            .collect()
    }

    fn ok(list: &[&str]) -> Config {
        parse(&args(list)).unwrap_or_else(|e| panic!("{list:?}: {e:?}"))
    }

    fn err(list: &[&str]) -> String {
        match parse(&args(list)) {
            Err(Stop::Fail { message, code: 1 }) => message,
            other => panic!("{list:?}: {other:?}"),
        }
    }

    #[test]
    fn minimal_command_lines() {
        let c = ok(&["--pull", "--bind", "tcp://127.0.0.1:5555"]);
        assert_eq!(c.socket_type, SocketType::Pull);
        assert_eq!(c.binds, ["tcp://127.0.0.1:5555"]);
        assert!(c.connects.is_empty());
        assert_eq!(c.format, Format::No);
        assert_eq!(c.subscriptions, [Vec::<u8>::new()]);
        assert_eq!(c.interval, None);
        assert_eq!(c.recv_timeout, None);

        let c = ok(&["--push", "--connect=ipc:///tmp/x", "-D", "hello"]);
        assert_eq!(c.socket_type, SocketType::Push);
        assert_eq!(c.connects, ["ipc:///tmp/x"]);
        assert_eq!(c.data.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn endpoint_shorthands() {
        let c = ok(&[
            "--rep",
            "-X",
            "/tmp/a",
            "-x/tmp/b",
            "-L",
            "5555",
            "-l5556",
            "--listen",
            "tcp://*:1",
            "--dial=tcp://h:2",
            "--bind-unix",
            "u",
        ]);
        assert_eq!(
            c.binds,
            [
                "ipc:///tmp/a",
                "tcp://127.0.0.1:5555",
                "tcp://*:1",
                "unix://u"
            ]
        );
        assert_eq!(
            c.connects,
            ["ipc:///tmp/b", "tcp://127.0.0.1:5556", "tcp://h:2"]
        );
    }

    #[test]
    fn values_timeouts_and_fractions() {
        let c = ok(&[
            "--req",
            "-l",
            "1",
            "-D",
            "x",
            "--recv-timeout",
            "0.25",
            "--send-timeout=1.5",
            "-i",
            "0.1",
            "-d",
            "2",
            "-A",
        ]);
        assert_eq!(c.recv_timeout, Some(Duration::from_millis(250)));
        assert_eq!(c.send_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(c.interval, Some(Duration::from_millis(100)));
        assert_eq!(c.delay, Duration::from_secs(2));
        assert_eq!(c.format, Format::Ascii);
        let c = ok(&[
            "--req",
            "-l",
            "1",
            "-D",
            "x",
            "--recv-timeout",
            "-1",
            "-i",
            "-1",
        ]);
        assert_eq!(c.recv_timeout, None);
        assert_eq!(c.interval, None);
        let c = ok(&[
            "--req",
            "-l",
            "1",
            "-D",
            "x",
            "--recv-timeout",
            "1e300",
            "-i",
            "inf",
            "-d",
            "1e30",
        ]);
        assert_eq!(c.recv_timeout, Some(Duration::from_secs(1_000_000_000)));
        assert_eq!(c.interval, None);
        assert_eq!(c.delay, Duration::from_secs(1_000_000_000));
        assert_eq!(
            err(&["--pull", "-l1", "--recv-timeout", "nan"]),
            "nanocat: Option --recv-timeout requires float point argument"
        );
    }

    #[test]
    fn formats_last_one_wins() {
        assert_eq!(
            ok(&["--pull", "-l1", "--hex", "--format", "quoted"]).format,
            Format::Quoted
        );
        assert_eq!(ok(&["--pull", "-l1", "-Q", "--raw"]).format, Format::Raw);
        assert_eq!(
            ok(&["--pull", "-l1", "--format=msgpack"]).format,
            Format::Msgpack
        );
        assert_eq!(ok(&["--pull", "-l1", "--format", "no"]).format, Format::No);
        assert_eq!(
            err(&["--pull", "-l1", "--format", "json"]),
            "nanocat: Invalid value ``json'' for --format . Options are:\n    no\n    raw\n    ascii\n    quoted\n    msgpack\n    hex"
        );
    }

    #[test]
    fn clustered_short_flags_and_verbosity() {
        assert_eq!(ok(&["--pull", "-l1", "-vvv", "-q"]).verbose, 2);
        assert_eq!(ok(&["--pull", "-l1", "-vA"]).format, Format::Ascii);
    }

    #[test]
    fn abbreviations() {
        let c = ok(&["--bind-l", "1", "--subs", "a", "--sub", "--for=hex"]);
        assert_eq!(c.socket_type, SocketType::Sub);
        assert_eq!(c.binds, ["tcp://127.0.0.1:1"]);
        assert_eq!(c.subscriptions, [b"a".to_vec()]);
        // Aliases of one option share a prefix without ambiguity.
        assert_eq!(
            ok(&["--surv", "-l1", "-Dx"]).socket_type,
            SocketType::Surveyor
        );
        assert_eq!(
            err(&["--pu", "-l1"]),
            "nanocat: Ambiguous option ``--pu'':\n    push\n    pull\n    pub\n    push0\n    pull0\n    pub0"
        );
        assert_eq!(
            err(&["--pull", "-l1", "--recv-t"]),
            "nanocat: Option --recv-t[imeout] requires an argument"
        );
    }

    #[test]
    fn socket_type_names() {
        for (name, t) in [
            ("--pair", SocketType::Pair0),
            ("--pair0", SocketType::Pair0),
            ("--pair1", SocketType::Pair1),
            ("--bus0", SocketType::Bus),
            ("--respondent", SocketType::Respondent),
            ("--rep0", SocketType::Rep),
        ] {
            assert_eq!(ok(&[name, "-l1"]).socket_type, t, "{name}");
        }
        assert_eq!(
            ok(&["--compat", "--pair", "-l1"]).socket_type,
            SocketType::Pair0
        );
    }

    #[test]
    fn socket_type_from_argv0() {
        let a: Vec<Vec<u8>> = ["/usr/local/bin/nn_sub", "-l1", "--subscribe", "x"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(parse(&a).unwrap().socket_type, SocketType::Sub);
        let a: Vec<Vec<u8>> = ["nn_push", "-l1", "--pull"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(
            parse(&a),
            Err(Stop::Fail {
                message: "nn_push: Option --pull conflicts with the following options:\n    nn_push (executable) ".into(),
                code: 1
            })
        );
    }

    #[test]
    fn nngcat_extras() {
        let c = ok(&[
            "--sub0",
            "--dial",
            "tcp://a:1",
            "-C",
            "3",
            "-Z",
            "0",
            "-k",
            "--compat",
            "--async",
        ]);
        assert_eq!(c.count, 3);
        assert_eq!(c.recv_max, Some(MaxRecvSize::Unlimited));
        assert!(c.insecure);
        assert_eq!(
            ok(&["--pull", "-l1", "--recv-maxsz=10"]).recv_max,
            Some(MaxRecvSize::Limited(10))
        );
        assert_eq!(
            err(&["--pull", "-l1", "-C", "x"]),
            "nanocat: Option -C (--count) requires integer argument"
        );
        assert_eq!(
            parse(&args(&["-V"])),
            Err(Stop::Print(format!("{}\n", env!("CARGO_PKG_VERSION"))))
        );
    }

    #[test]
    fn errors_match_nanocat() {
        // Each bad command line and nanocat's message for it.
        let cases: &[(&[&str], &str)] = &[
            (&["--pull", "-l1", "--frobnicate"], "nanocat: Unknown option ``--frobnicate''"),
            (&["--pull", "-l1", "-z"], "nanocat: Unknown option ``-z''"),
            (&["--pull", "-l1", "stray"], "nanocat: Unexpected argument ``stray''"),
            (&["--push", "--pull", "-l1"], "nanocat: Option --pull conflicts with the following options:\n    --push "),
            (&["--pull", "-l1", "--data", "a"], "nanocat: Option --data requires at least one of the following options:\n    --push\n    --pub\n    --req\n    --rep\n    --surveyor\n    --respondent\n    --bus\n    --pair\n    --push0\n    --pub0\n    --req0\n    --rep0\n    --surveyor0\n    --respondent0\n    --bus0\n    --pair0\n    --pair1"),
            (&["--push", "-l1"], "nanocat: Option --push requires at least one of the following options:\n    --data\n    -D\n    --file\n    -F"),
            (&["--req", "-l1", "-D", "a", "--file=/nonexistent"], "nanocat: Option --file=/nonexistent conflicts with the following options:\n    -D (--data) "),
            // The same option twice: nanocat lists the option itself.
            (&["--req", "-l1", "-D", "a", "--data=b"], "nanocat: Option --data=b conflicts with the following options:\n    --data=b "),
            (&["--pull", "-l1", "--recv-timeout", "soon"], "nanocat: Option --recv-timeout requires float point argument"),
            (&["--pull", "-l1", "-d"], "nanocat: Option -d (--delay) requires an argument"),
            (&["--pull", "-l1", "--ascii=yes"], "nanocat: Option --ascii=yes does not accept argument"),
        ];
        for (argv, want) in cases {
            assert_eq!(err(argv), *want, "{argv:?}");
        }
        let none = err(&["--pull"]);
        assert!(none.starts_with("nanocat: At least one of the following required:\n    --bind\n    --connect\n    --listen\n"), "{none}");
        assert!(none.ends_with("    --connect-local\n    -l"), "{none}");
        let nothing = err(&[]);
        assert!(
            nothing.starts_with(
                "nanocat: At least one of the following required:\n    --push\n    --pull\n"
            ),
            "{nothing}"
        );
    }

    #[test]
    fn missing_file_exits_with_2() {
        match parse(&args(&["--push", "-l1", "-F", "/nonexistent/spcat-file"])) {
            Err(Stop::Fail { message, code: 2 }) => assert_eq!(
                message,
                "Error opening file ``/nonexistent/spcat-file'': No such file or directory"
            ),
            other => panic!("{other:?}"),
        }
    }
}
