//! The option table, as nanocat's `tools/options.c` lays it out: every option with what it
//! provides, conflicts with and requires (nanocat's masks), its group and help text for
//! the usage screen. nngcat's extra names and options stand next to their kin.

use sp_net::SocketType;

use crate::format::Format;

// What an option provides, conflicts with or requires (nanocat's masks).
pub(crate) const SOCK: u32 = 1;
pub(crate) const WRITABLE: u32 = 2;
pub(crate) const READABLE: u32 = 4;
pub(crate) const SOCK_SUB: u32 = 8;
pub(crate) const DATA: u32 = 16;
pub(crate) const ENDPOINT: u32 = 32;
pub(crate) const SOCK_W: u32 = SOCK | WRITABLE;
pub(crate) const SOCK_R: u32 = SOCK | READABLE;
pub(crate) const SOCK_RW: u32 = SOCK_W | SOCK_R;
/// Every command line needs a socket type and an endpoint.
pub(crate) const REQUIRED: u32 = SOCK | ENDPOINT;

/// What an option does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Verbose,
    Silent,
    Help,
    Version,
    Type(SocketType),
    Compat,
    Async,
    /// Adds a listener; the value is appended to this prefix.
    Bind(&'static str),
    /// Adds a dialer; the value is appended to this prefix.
    Connect(&'static str),
    RecvTimeout,
    SendTimeout,
    SocketName,
    RecvMaxSize,
    Subscribe,
    FormatName,
    Format(Format),
    Interval,
    Delay,
    Data,
    File,
    Count,
    Insecure,
    Cert,
    Key,
    CaCert,
}

impl Action {
    pub(crate) fn has_arg(self) -> bool {
        !matches!(
            self,
            Self::Verbose
                | Self::Silent
                | Self::Help
                | Self::Version
                | Self::Type(_)
                | Self::Compat
                | Self::Async
                | Self::Format(_)
                | Self::Insecure
        )
    }
}

/// One entry of the option table.
#[derive(Debug)]
pub(crate) struct Opt {
    pub(crate) long: &'static str,
    pub(crate) short: Option<u8>,
    pub(crate) arg0: Option<&'static str>,
    pub(crate) action: Action,
    pub(crate) provides: u32,
    pub(crate) conflicts: u32,
    pub(crate) requires: u32,
    pub(crate) group: &'static str,
    pub(crate) metavar: Option<&'static str>,
    pub(crate) help: &'static str,
    /// An nngcat spelling of another option: left out of the usage line.
    pub(crate) alias: bool,
}

const fn opt(
    long: &'static str,
    short: u8,
    action: Action,
    group: &'static str,
    metavar: &'static str,
    help: &'static str,
) -> Opt {
    Opt {
        long,
        short: if short == 0 { None } else { Some(short) },
        arg0: None,
        action,
        provides: 0,
        conflicts: 0,
        requires: 0,
        group,
        metavar: if metavar.is_empty() {
            None
        } else {
            Some(metavar)
        },
        help,
        alias: false,
    }
}

impl Opt {
    const fn masks(mut self, provides: u32, conflicts: u32, requires: u32) -> Self {
        self.provides = provides;
        self.conflicts = conflicts;
        self.requires = requires;
        self
    }

    const fn alias(mut self) -> Self {
        self.alias = true;
        self
    }

    const fn arg0(mut self, name: &'static str) -> Self {
        self.arg0 = Some(name);
        self
    }
}

const fn socket(
    long: &'static str,
    ty: SocketType,
    provides: u32,
    requires: u32,
    help: &'static str,
) -> Opt {
    opt(long, 0, Action::Type(ty), "Socket Types", "", help).masks(provides, SOCK, requires)
}

const G: &str = "Generic";
const S: &str = "Socket Options";
const I: &str = "Input Options";
const O: &str = "Output Options";
const T: &str = "TLS Options (tls+tcp://)";

/// The option table: nanocat's options in nanocat's order, nngcat's additions next to
/// their kin.
pub(crate) static OPTIONS: &[Opt] = &[
    opt("verbose", b'v', Action::Verbose, G, "", "Increase verbosity of spcat (-v reports endpoints on stderr)"),
    opt("silent", b'q', Action::Silent, G, "", "Decrease verbosity of spcat"),
    opt("help", b'h', Action::Help, G, "", "This help text"),
    opt("version", b'V', Action::Version, G, "", "Print the version and exit"),
    socket("push", SocketType::Push, SOCK_W, DATA, "Use PUSH socket type").arg0("nn_push"),
    socket("pull", SocketType::Pull, SOCK_R, 0, "Use PULL socket type").arg0("nn_pull"),
    socket("pub", SocketType::Pub, SOCK_W, DATA, "Use PUB socket type").arg0("nn_pub"),
    socket("sub", SocketType::Sub, SOCK_R | SOCK_SUB, 0, "Use SUB socket type").arg0("nn_sub"),
    socket("req", SocketType::Req, SOCK_RW, DATA, "Use REQ socket type").arg0("nn_req"),
    socket("rep", SocketType::Rep, SOCK_RW, 0, "Use REP socket type").arg0("nn_rep"),
    socket("surveyor", SocketType::Surveyor, SOCK_RW, DATA, "Use SURVEYOR socket type").arg0("nn_surveyor"),
    socket("respondent", SocketType::Respondent, SOCK_RW, 0, "Use RESPONDENT socket type").arg0("nn_respondent"),
    socket("bus", SocketType::Bus, SOCK_RW, 0, "Use BUS socket type").arg0("nn_bus"),
    socket("pair", SocketType::Pair0, SOCK_RW, 0, "Use PAIR socket type (PAIR v0, as nanocat; also with --compat)").arg0("nn_pair"),
    socket("push0", SocketType::Push, SOCK_W, DATA, "Same as --push").alias(),
    socket("pull0", SocketType::Pull, SOCK_R, 0, "Same as --pull").alias(),
    socket("pub0", SocketType::Pub, SOCK_W, DATA, "Same as --pub").alias(),
    socket("sub0", SocketType::Sub, SOCK_R | SOCK_SUB, 0, "Same as --sub").alias(),
    socket("req0", SocketType::Req, SOCK_RW, DATA, "Same as --req").alias(),
    socket("rep0", SocketType::Rep, SOCK_RW, 0, "Same as --rep").alias(),
    socket("surveyor0", SocketType::Surveyor, SOCK_RW, DATA, "Same as --surveyor").alias(),
    socket("respondent0", SocketType::Respondent, SOCK_RW, 0, "Same as --respondent").alias(),
    socket("bus0", SocketType::Bus, SOCK_RW, 0, "Same as --bus").alias(),
    socket("pair0", SocketType::Pair0, SOCK_RW, 0, "Use PAIR v0 socket type"),
    socket("pair1", SocketType::Pair1, SOCK_RW, 0, "Use PAIR v1 socket type (NNG's pair)"),
    opt("compat", 0, Action::Compat, "Socket Types", "", "nngcat compatibility: accepted; --pair already means PAIR v0"),
    opt("bind", 0, Action::Bind(""), S, "ADDR", "Bind socket to the address ADDR").masks(ENDPOINT, 0, 0),
    opt("connect", 0, Action::Connect(""), S, "ADDR", "Connect socket to the address ADDR").masks(ENDPOINT, 0, 0),
    opt("listen", 0, Action::Bind(""), S, "ADDR", "Same as --bind").masks(ENDPOINT, 0, 0).alias(),
    opt("dial", 0, Action::Connect(""), S, "ADDR", "Same as --connect").masks(ENDPOINT, 0, 0).alias(),
    opt("bind-unix", 0, Action::Bind("unix://"), S, "PATH", "Bind socket to the Unix socket address \"unix://PATH\".").masks(ENDPOINT, 0, 0),
    opt("connect-unix", 0, Action::Connect("unix://"), S, "PATH", "Connect socket to the Unix socket address \"unix://PATH\".").masks(ENDPOINT, 0, 0),
    opt("bind-ipc", b'X', Action::Bind("ipc://"), S, "PATH", "Bind socket to the ipc address \"ipc://PATH\".").masks(ENDPOINT, 0, 0),
    opt("connect-ipc", b'x', Action::Connect("ipc://"), S, "PATH", "Connect socket to the ipc address \"ipc://PATH\".").masks(ENDPOINT, 0, 0),
    opt("bind-local", b'L', Action::Bind("tcp://127.0.0.1:"), S, "PORT", "Bind socket to the tcp address \"tcp://127.0.0.1:PORT\".").masks(ENDPOINT, 0, 0),
    opt("connect-local", b'l', Action::Connect("tcp://127.0.0.1:"), S, "PORT", "Connect socket to the tcp address \"tcp://127.0.0.1:PORT\".").masks(ENDPOINT, 0, 0),
    opt("recv-timeout", 0, Action::RecvTimeout, S, "SEC", "Set timeout for receiving a message (fractions of a second are kept)").masks(0, 0, READABLE),
    opt("send-timeout", 0, Action::SendTimeout, S, "SEC", "Set timeout for sending a message").masks(0, 0, WRITABLE),
    opt("socket-name", 0, Action::SocketName, S, "NAME", "Name of the socket for statistics (accepted, unused)"),
    opt("recv-maxsz", b'Z', Action::RecvMaxSize, S, "BYTES", "Largest message accepted (0 means no limit; default 1048576)"),
    opt("subscribe", 0, Action::Subscribe, "SUB Socket Options", "PREFIX", "Subscribe to the prefix PREFIX. Note: socket will be subscribed to everything (empty prefix) if no prefixes are specified on the command-line.").masks(0, 0, SOCK_SUB),
    opt("format", 0, Action::FormatName, I, "FORMAT", "Use echo format FORMAT (same as the options below)").masks(0, 0, READABLE),
    opt("raw", 0, Action::Format(Format::Raw), I, "", "Dump message as is (Note: no delimiters are printed)").masks(0, 0, READABLE),
    opt("ascii", b'A', Action::Format(Format::Ascii), I, "", "Print ASCII part of message delimited by newline. All non-ascii characters replaced by dot.").masks(0, 0, READABLE),
    opt("quoted", b'Q', Action::Format(Format::Quoted), I, "", "Print each message on separate line in double quotes with C-like character escaping").masks(0, 0, READABLE),
    opt("msgpack", 0, Action::Format(Format::Msgpack), I, "", "Print each message as msgpacked string (raw type). This is useful for programmatic parsing.").masks(0, 0, READABLE),
    opt("hex", 0, Action::Format(Format::Hex), I, "", "Print each message on separate line in double quotes with hex values").masks(0, 0, READABLE),
    opt("interval", b'i', Action::Interval, O, "SEC", "Send message (or request) every SEC seconds").masks(0, 0, WRITABLE),
    opt("delay", b'd', Action::Delay, O, "SEC", "Wait for SEC seconds before sending message (useful for one-shot PUB sockets)"),
    opt("data", b'D', Action::Data, O, "DATA", "Send DATA to the socket and quit for PUB, PUSH, PAIR, BUS socket. Use DATA to reply for REP or RESPONDENT socket. Send DATA as request for REQ or SURVEYOR socket.").masks(DATA, DATA, WRITABLE),
    opt("file", b'F', Action::File, O, "PATH", "Same as --data but get data from file PATH (- for standard input)").masks(DATA, DATA, WRITABLE),
    opt("count", b'C', Action::Count, O, "COUNT", "Stop after COUNT messages (sent by PUB/PUSH, received otherwise, answered by REP/RESPONDENT) or COUNT rounds (REQ/SURVEYOR, BUS/PAIR with --interval); 0 means no limit"),
    opt("async", 0, Action::Async, O, "", "nngcat compatibility: accepted (connects are always asynchronous)"),
    opt("insecure", b'k', Action::Insecure, T, "", "Do not verify the server's certificate"),
    opt("cert", b'E', Action::Cert, T, "FILE", "Own certificate chain (PEM); also the key when --key is not given"),
    opt("key", 0, Action::Key, T, "FILE", "Own private key (PEM)"),
    opt("cacert", 0, Action::CaCert, T, "FILE", "Certificates trusted to verify the peer (PEM)"),
];
