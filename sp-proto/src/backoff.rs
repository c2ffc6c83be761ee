//! Reconnect backoff as a sans-IO timer state machine.
//!
//! After each failed attempt (or lost connection) the dialer asks for the next delay:
//! exponential growth from `min` to `max`, with "equal jitter" (a uniform random value in
//! `[cur/2, cur]`) so that many dialers restarting together spread out, and a reset to
//! `min` after a connection succeeds. This fixes what users report of the peers: nanomsg
//! never resets and never randomises; NNG randomises over `[0, cur)`, which can retry at
//! once. `max == min` gives a fixed interval; jitter can be switched off for tests.

use core::time::Duration;

use crate::rng::Rng;
use crate::time::Instant;

/// Default first reconnect delay (nanomsg's and mangos' 100 ms).
pub const DEFAULT_RECONNECT_MIN: Duration = Duration::from_millis(100);
/// Default cap on the reconnect delay.
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(5);

/// Reconnect delay policy and state for one dialer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    current: Duration,
    jitter: bool,
    rng: Rng,
    attempts: u64,
}

impl Backoff {
    /// A backoff from `min` doubling up to `max` (raised to `min` if smaller), jittered
    /// with the given seed.
    pub fn new(min: Duration, max: Duration, seed: u64) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            min,
            max: max.max(min),
            current: min,
            jitter: true,
            rng: Rng::new(seed),
            attempts: 0,
        }
    }

    /// The defaults: 100 ms to 5 s.
    pub fn with_defaults(seed: u64) -> Self {
        Self::new(DEFAULT_RECONNECT_MIN, DEFAULT_RECONNECT_MAX, seed)
    }

    /// Turns jitter on or off (off: delays are exactly min, 2·min, 4·min, … max).
    pub fn set_jitter(&mut self, on: bool) {
        self.jitter = on;
    }

    /// The delay before the next attempt, advancing the state.
    pub fn next_delay(&mut self) -> Duration {
        let cur = self.current;
        self.current = cur.saturating_mul(2).min(self.max);
        self.attempts += 1;
        if !self.jitter {
            return cur;
        }
        let nanos = u64::try_from(cur.as_nanos()).unwrap_or(u64::MAX);
        let half = nanos / 2;
        Duration::from_nanos(half + self.rng.below(nanos - half + 1))
    }

    /// When the next attempt is due, for a failure observed at `now`.
    pub fn next_attempt(&mut self, now: Instant) -> Instant {
        now + self.next_delay()
    }

    /// A connection succeeded: the next failure starts again from `min`.
    pub fn reset(&mut self) {
        self.current = self.min;
        self.attempts = 0;
    }

    /// Failed attempts since the last reset.
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// The configured minimum.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The configured maximum.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn exponential_capped_and_reset() {
        let mut b = Backoff::new(100 * MS, 1000 * MS, 1);
        b.set_jitter(false);
        let d: Vec<_> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.attempts(), 6);
        b.reset();
        assert_eq!(b.next_delay(), 100 * MS);
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let mut b = Backoff::new(100 * MS, 800 * MS, 9);
        let mut cur = 100 * MS;
        for _ in 0..20 {
            let d = b.next_delay();
            assert!(
                d >= cur / 2 && d <= cur,
                "{d:?} outside [{:?}, {cur:?}]",
                cur / 2
            );
            cur = (cur * 2).min(800 * MS);
        }
        // Same seed, same sequence; different seeds spread.
        let seq = |s| {
            let mut b = Backoff::new(100 * MS, 800 * MS, s);
            (0..5).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(seq(3), seq(3));
        assert_ne!(seq(3), seq(4));
    }

    #[test]
    fn degenerate_bounds() {
        let mut b = Backoff::new(Duration::ZERO, Duration::ZERO, 0);
        b.set_jitter(false);
        assert_eq!(b.next_delay(), MS);
        assert_eq!(b.next_delay(), MS);
        assert_eq!(b.next_attempt(Instant::ZERO), Instant::from_millis(1));
    }
}
