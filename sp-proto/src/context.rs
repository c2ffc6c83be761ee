//! Context ids: independent conversations on one REQ, REP, SURVEYOR or RESPONDENT socket
//! (NNG-style contexts), so an async API can have many operations in flight at once.

/// Identifies one context of a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContextId(u64);

impl ContextId {
    /// The context used by [`Protocol::send`](crate::Protocol::send) and
    /// [`Protocol::recv`](crate::Protocol::recv); it always exists.
    pub const DEFAULT: Self = Self(0);

    /// The numeric id (0 for the default context).
    pub const fn get(self) -> u64 {
        self.0
    }

    pub(crate) const fn from_raw(id: u64) -> Self {
        Self(id)
    }
}
