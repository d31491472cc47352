//! Retrying: how many attempts a request gets and how long to wait between them, for every
//! caller — the pipeline's rows, and the reads of `reconcile` and of the teams and projects
//! directory through [`retry_reads`].
//!
//! The policy is a plain value; [`RetryPolicy::backoff`] turns it into an iterator of waits.
//! This is the only module that uses the `backoff` crate, so it can be swapped for another
//! implementation without touching its callers.

use std::time::Duration;

use backoff::backoff::Backoff;

use crate::atlas::error::{CallError, ErrorClass};

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

/// A read that failed for good: the last error and how many attempts were made.
#[derive(Debug)]
pub struct GaveUp {
    pub error: CallError,
    pub attempts: u32,
}

/// Calls `call` until it succeeds, retrying what may pass — rate limits (after the server's
/// `Retry-After`), server errors and lost answers, which a read may repeat safely — with the
/// policy's backoff, up to its attempts. Anything else (401/403, other 4xx) ends at once.
/// `on_retry` hears of each failure that is retried and of the wait before the next attempt.
pub async fn retry_reads<T, F, Fut>(
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(&CallError, Duration),
    mut call: F,
) -> Result<T, GaveUp>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, CallError>>,
{
    let mut backoff = policy.backoff();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let error = match call().await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let retry_after = match error.class() {
            ErrorClass::RateLimited { retry_after } => retry_after,
            ErrorClass::Transient | ErrorClass::Unknown => None,
            _ => return Err(GaveUp { error, attempts }),
        };
        if attempts >= policy.max_attempts {
            return Err(GaveUp { error, attempts });
        }
        let wait = backoff.next_delay(retry_after);
        on_retry(&error, wait);
        tokio::time::sleep(wait).await;
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

    #[tokio::test(start_paused = true)]
    async fn reads_retry_what_may_pass_and_stop_at_what_cannot() {
        let policy = RetryPolicy::new(3, Duration::from_millis(10));
        let status = |status: u16| CallError::Status {
            status,
            api: None,
            body: String::new(),
            error_code_header: None,
            rate: Default::default(),
        };
        // Two server errors, then success.
        let mut calls = 0;
        let mut retried = Vec::new();
        let value = retry_reads(
            &policy,
            |e, _| retried.push(e.http_status()),
            || {
                calls += 1;
                let answer = if calls < 3 {
                    Err(status(503))
                } else {
                    Ok(calls)
                };
                std::future::ready(answer)
            },
        )
        .await
        .unwrap();
        assert_eq!(value, 3);
        assert_eq!(retried, vec![Some(503), Some(503)]);
        // 401 ends at once.
        let gave_up = retry_reads(
            &policy,
            |_, _| {},
            || std::future::ready(Err::<(), _>(status(401))),
        )
        .await
        .unwrap_err();
        assert_eq!(
            (gave_up.attempts, gave_up.error.http_status()),
            (1, Some(401))
        );
        // Lost answers are retried up to the attempts.
        let gave_up = retry_reads(
            &policy,
            |_, _| {},
            || std::future::ready(Err::<(), _>(CallError::NoAnswer("reset".into()))),
        )
        .await
        .unwrap_err();
        assert_eq!(gave_up.attempts, 3);
    }

    proptest::proptest! {
        /// Every wait stays within the cap, whatever the policy; a server's `Retry-After` is
        /// used as it is.
        #[test]
        fn waits_stay_within_the_cap(
            attempts in 0u32..50,
            cap_ms in 1u64..120_000,
            retry_after_ms in proptest::option::of(0u64..600_000),
        ) {
            let policy = RetryPolicy::new(attempts, Duration::from_millis(cap_ms));
            proptest::prop_assert!(policy.max_attempts >= 1);
            let mut backoff = policy.backoff();
            for _ in 0..attempts.max(1) {
                proptest::prop_assert!(backoff.next_delay(None) <= Duration::from_millis(cap_ms));
            }
            if let Some(ms) = retry_after_ms {
                let given = Duration::from_millis(ms);
                proptest::prop_assert_eq!(backoff.next_delay(Some(given)), given);
            }
        }
    }
}
