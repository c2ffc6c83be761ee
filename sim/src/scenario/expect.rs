//! The expectations a scenario checks after its run, as written in files.
//!
//! Each check is a struct of its own that rejects unknown keys, so a typo'd key is an
//! error naming the key and the ones allowed. The checks that count something also take
//! [`Bounds`] (`count`, `min`, `max`), added to their own fields by the `bounded!`
//! macro: serde's `flatten` would share them too, but cannot be combined with
//! `deny_unknown_fields`.
//! The `label` and `layers` keys every check may carry belong to
//! [`ExpectDef`](super::ExpectDef).

use serde::{Deserialize, Serialize};

/// Bounds on a number: the `count` (exact), `min` and `max` keys of a counting check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Exactly this many, if set.
    pub count: Option<u64>,
    /// At least this many, if set.
    pub min: Option<u64>,
    /// At most this many, if set.
    pub max: Option<u64>,
}

impl Bounds {
    /// Whether `n` is within the bounds; the error says how it is not.
    pub(crate) fn check(&self, n: u64) -> Result<(), String> {
        if let Some(c) = self.count {
            if n != c {
                return Err(format!("got {n}, want exactly {c}"));
            }
        }
        if let Some(m) = self.min {
            if n < m {
                return Err(format!("got {n}, want at least {m}"));
            }
        }
        if let Some(m) = self.max {
            if n > m {
                return Err(format!("got {n}, want at most {m}"));
            }
        }
        Ok(())
    }
}

/// Declares a check's struct with its own fields plus the [`Bounds`] keys (`count`,
/// `min`, `max`), rejecting any other key, and its `bounds()` accessor.
macro_rules! bounded {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Exactly this many.
            #[serde(default)]
            pub count: Option<u64>,
            /// At least.
            #[serde(default)]
            pub min: Option<u64>,
            /// At most.
            #[serde(default)]
            pub max: Option<u64>,
        }

        impl $name {
            /// The `count`, `min` and `max` given.
            pub fn bounds(&self) -> Bounds {
                Bounds {
                    count: self.count,
                    min: self.min,
                    max: self.max,
                }
            }
        }
    };
}

bounded! {
    /// Messages received by the application of each socket matching `socket`.
    ///
    /// The messages considered are those sent by `sent_by` (a socket pattern) within
    /// `sent_between` (ms, half-open), or with the body `body` (a trailing `*` makes it a
    /// prefix). `all`: every one was received; `none`: none was; bounds count those
    /// received (per socket). Without a sender or body, bounds count everything received.
    /// `by_ms`, `after_ms` and `from_host` restrict which receptions count.
    pub struct ReceivedCheck {
        /// Receiving sockets (`host.socket`; the host part may be a pattern).
        pub socket: String,
        /// Sending sockets.
        #[serde(default)]
        pub sent_by: Option<String>,
        /// Only messages sent within `[from, to)` ms.
        #[serde(default)]
        pub sent_between: Option<[f64; 2]>,
        /// Only messages with this body (or prefix with a trailing `*`).
        #[serde(default)]
        pub body: Option<String>,
        /// Only receptions from a peer on this host (pattern).
        #[serde(default)]
        pub from_host: Option<String>,
        /// Only receptions at or before this time.
        #[serde(default)]
        pub by_ms: Option<f64>,
        /// Only receptions at or after this time.
        #[serde(default)]
        pub after_ms: Option<f64>,
        /// Every considered message was received.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub all: bool,
        /// No considered message was received.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub none: bool,
        /// The bounds apply to the total over the matching sockets (default: to each).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub total: bool,
    }
}

impl ReceivedCheck {
    /// A check at `socket` with no filter and no bounds.
    pub fn at(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            sent_by: None,
            sent_between: None,
            body: None,
            from_host: None,
            by_ms: None,
            after_ms: None,
            all: false,
            none: false,
            total: false,
            count: None,
            min: None,
            max: None,
        }
    }
}

impl PipesCheck {
    /// At least `min` pipes at each socket matching `socket`.
    pub fn at_least(socket: impl Into<String>, min: u64) -> Self {
        Self {
            socket: socket.into(),
            count: None,
            min: Some(min),
            max: None,
        }
    }
}

/// Every message `sender` sent (and the protocol accepted) was received exactly once by
/// one of `receivers`, counting duplicates across all of them.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExactlyOnceCheck {
    /// Sending socket pattern.
    pub sender: String,
    /// Receiving socket pattern.
    pub receivers: String,
}

/// The responses a SURVEYOR's application received for one survey, as a set.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyCheck {
    /// The surveyor.
    pub socket: String,
    /// Which survey (0 first).
    #[serde(default)]
    pub round: usize,
    /// The response bodies expected, in any order.
    pub responses: Vec<String>,
}

bounded! {
    /// Protocol drops with a reason, summed over the sockets matching `socket`.
    pub struct DropsCheck {
        /// Socket pattern.
        pub socket: String,
        /// A [`DropReason`](sp_proto::DropReason) name (`survey_expired`, `stale_id`,
        /// ...) or `any`.
        pub reason: String,
    }
}

bounded! {
    /// Frames the network dropped for a reason (`loss`, `partition`, `conn_closed`,
    /// `host_down`, `bad_frame`) or `any`.
    pub struct NetDropsCheck {
        /// The reason.
        pub reason: String,
    }
}

bounded! {
    /// Pipes each matching socket has at the end of the run.
    pub struct PipesCheck {
        /// Socket pattern.
        pub socket: String,
    }
}

bounded! {
    /// Pipe attachments at the matching sockets, summed: the most seen within any window
    /// of `window_ms` (after `after_ms`) is at most `max_per_window`, and the total is
    /// within the bounds.
    pub struct ConnectRateCheck {
        /// Socket pattern.
        pub socket: String,
        /// Window length.
        pub window_ms: f64,
        /// Only attachments at or after this time.
        #[serde(default)]
        pub after_ms: f64,
        /// Only attachments before this time.
        #[serde(default)]
        pub before_ms: Option<f64>,
        /// Peak allowed in one window.
        pub max_per_window: u64,
    }
}

bounded! {
    /// A counter (`resends`, `delivered`, `msgs_in`, `msgs_out` from the protocol;
    /// `refused`, `connects`, `send_failed` from the simulator), summed over the matching
    /// sockets (resends, refused and connects also over crashed incarnations).
    pub struct StatCheck {
        /// Socket pattern.
        pub socket: String,
        /// Counter name.
        pub field: String,
    }
}

/// An expectation, checked after the run: `check = "<name>"` picks the variant.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Expect {
    /// See [`ReceivedCheck`].
    Received(ReceivedCheck),
    /// See [`ExactlyOnceCheck`].
    ExactlyOnce(ExactlyOnceCheck),
    /// See [`SurveyCheck`].
    Survey(SurveyCheck),
    /// See [`DropsCheck`].
    Drops(DropsCheck),
    /// See [`NetDropsCheck`].
    NetDrops(NetDropsCheck),
    /// See [`PipesCheck`].
    Pipes(PipesCheck),
    /// See [`ConnectRateCheck`].
    ConnectRate(ConnectRateCheck),
    /// See [`StatCheck`].
    Stat(StatCheck),
}

impl Expect {
    /// The check's name as written in files (`received`, `survey`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Received(_) => "received",
            Self::ExactlyOnce(_) => "exactly_once",
            Self::Survey(_) => "survey",
            Self::Drops(_) => "drops",
            Self::NetDrops(_) => "net_drops",
            Self::Pipes(_) => "pipes",
            Self::ConnectRate(_) => "connect_rate",
            Self::Stat(_) => "stat",
        }
    }

    /// What the report calls the check when it has no label.
    pub(crate) fn default_label(&self) -> String {
        match self {
            Self::Received(c) => format!("received at {}", c.socket),
            Self::ExactlyOnce(c) => format!("{} -> {} exactly once", c.sender, c.receivers),
            Self::Survey(c) => format!("survey {} at {}", c.round, c.socket),
            Self::Drops(c) => format!("{} drops at {}", c.reason, c.socket),
            Self::NetDrops(c) => format!("network drops ({})", c.reason),
            Self::Pipes(c) => format!("pipes at {}", c.socket),
            Self::ConnectRate(c) => format!("connect rate at {}", c.socket),
            Self::Stat(c) => format!("{} at {}", c.field, c.socket),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::{Expect, Scenario};

    /// A host with one socket `h.s` for the expectations to name.
    const HOST: &str = "[[host]]\nname = \"h\"\n[[host.socket]]\nname = \"s\"\ntype = \"pair\"\n";

    #[test]
    fn shared_keys_load_and_typos_are_named() {
        let sc = Scenario::from_toml(&format!(
            "{HOST}[[expect]]\ncheck = \"drops\"\nlabel = \"l\"\nsocket = \"*.s\"\nreason = \"any\"\n\
             min = 1\nmax = 2\n"
        ))
        .unwrap();
        let Expect::Drops(c) = &sc.expects[0].check else {
            panic!("{:?}", sc.expects[0].check)
        };
        assert_eq!(
            (c.bounds().min, c.bounds().max, c.count),
            (Some(1), Some(2), None)
        );
        assert_eq!(sc.expects[0].what(), "drops \"l\"");
        let e = Scenario::from_toml("[[expect]]\ncheck = \"pipes\"\nsocket = \"*.s\"\ncoutn = 1\n")
            .unwrap_err();
        assert!(e.message.contains("unknown field `coutn`"), "{e}");
        assert!(e.message.contains("`count`"), "{e}");
        // Checks that count nothing take no bounds.
        let e = Scenario::from_toml(
            "[[expect]]\ncheck = \"exactly_once\"\nsender = \"a.s\"\nreceivers = \"b.s\"\n\
             count = 1\n",
        )
        .unwrap_err();
        assert!(e.message.contains("unknown field `count`"), "{e}");
    }
}
