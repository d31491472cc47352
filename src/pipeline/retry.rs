//! The retry policy: how many attempts a row gets and how long to wait between them.
//!
//! The policy is a plain value; [`RetryPolicy::backoff`] turns it into an iterator of waits.
//! This is the only module that uses the `backoff` crate, so it can be swapped for another
//! implementation without touching the pipeline.

use std::time::Duration;

use backoff::backoff::Backoff;

/// First wait after a transient failure.
pub const INITIAL_DELAY: Duration = Duration::from_millis(500);
/// Growth of the wait from one attempt to the next.
pub const MULTIPLIER: f64 = 2.0;
/// Each wait is drawn uniformly within ±50 % of the nominal one, so workers that failed together
/// do not retry together.
pub const JITTER: f64 = 0.5;

/// How failed requests are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Requests per row at most, the first one included.
    pub max_attempts: u32,
    pub initial_delay: Duration,
    /// Cap of one wait.
    pub max_delay: Duration,
    pub multiplier: f64,
    pub jitter: f64,
}

impl RetryPolicy {
    /// The policy with the documented constants and the given limits.
    pub fn new(max_attempts: u32, max_delay: Duration) -> RetryPolicy {
        RetryPolicy {
            max_attempts: max_attempts.max(1),
            initial_delay: INITIAL_DELAY.min(max_delay),
            max_delay,
            multiplier: MULTIPLIER,
            jitter: JITTER,
        }
    }

    /// A fresh sequence of waits for one row.
    pub fn backoff(&self) -> RetryBackoff {
        let inner = backoff::ExponentialBackoffBuilder::new()
            .with_initial_interval(self.initial_delay)
            .with_multiplier(self.multiplier)
            .with_randomization_factor(self.jitter)
            .with_max_interval(self.max_delay)
            .with_max_elapsed_time(None)
            .build();
        RetryBackoff {
            inner,
            max_delay: self.max_delay,
        }
    }
}

/// The waits of one row, each capped at the policy's `max_delay`.
pub struct RetryBackoff {
    inner: backoff::ExponentialBackoff,
    max_delay: Duration,
}

impl RetryBackoff {
    /// The wait before the next attempt. A server's `Retry-After` is used as it is, even above the
    /// cap: the server knows when capacity returns, and retrying earlier only earns another 429.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let computed = self
            .inner
            .next_backoff()
            .unwrap_or(self.max_delay)
            .min(self.max_delay);
        retry_after.unwrap_or(computed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stay_under_the_cap() {
        let policy = RetryPolicy::new(8, Duration::from_secs(4));
        let mut backoff = policy.backoff();
        let waits: Vec<Duration> = (0..10).map(|_| backoff.next_delay(None)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(4)));
        // With ±50 % jitter the first wait is within [250ms, 750ms].
        assert!(waits[0] >= Duration::from_millis(250) && waits[0] <= Duration::from_millis(750));
        // After enough doublings every wait sits in the capped band.
        assert!(waits[9] >= Duration::from_secs(2), "{waits:?}");
    }

    #[test]
    fn retry_after_is_honoured_even_above_the_cap() {
        let policy = RetryPolicy::new(8, Duration::from_secs(1));
        let mut backoff = policy.backoff();
        assert_eq!(
            backoff.next_delay(Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        // A Retry-After shorter than the computed wait is used as is: the server said when.
        let wait = backoff.next_delay(Some(Duration::from_millis(1)));
        assert_eq!(wait, Duration::from_millis(1));
    }

    #[test]
    fn at_least_one_attempt_and_initial_delay_within_cap() {
        let policy = RetryPolicy::new(0, Duration::from_millis(100));
        assert_eq!(policy.max_attempts, 1);
        assert_eq!(policy.initial_delay, Duration::from_millis(100));
    }
}
