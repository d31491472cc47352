//! The client-side rate limit shared by every worker, and the global pause after a 429.
//!
//! One `governor` limiter paces requests. When Atlas answers "too many requests", every worker
//! pauses until the server's `Retry-After` has passed, not only the one that got the answer,
//! and the rate adapts down (multiplicative decrease); it creeps back towards the configured
//! rate while no 429 arrives (additive increase). A run configured faster than the server
//! allows thus settles near the server's rate instead of hammering it.

use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::time::Instant;

use crate::atlas::error::RateHeaders;

/// The rate never adapts below this, so a run always makes progress.
pub const MIN_RATE_PER_SEC: f64 = 0.2;
/// Factor applied to the rate on a 429.
pub const DECREASE_FACTOR: f64 = 0.7;
/// After a decrease, further 429s within this window (or the pause, if longer) are the same
/// overload and do not decrease the rate again.
pub const DECREASE_COOLDOWN: Duration = Duration::from_secs(1);
/// Without a 429 for this long, the rate grows by [`INCREASE_STEP`].
pub const INCREASE_INTERVAL: Duration = Duration::from_secs(2);
/// Fraction of the current rate added per quiet interval. Growing in proportion to the current
/// rate, not the configured one, keeps a run configured far above the server's limit from
/// overshooting it again right after adapting down.
pub const INCREASE_STEP: f64 = 0.05;
/// Smallest increase per quiet interval, so that very low rates recover too.
pub const MIN_INCREASE_PER_SEC: f64 = 0.05;
/// Factor applied when an answer's `RateLimit-Remaining` shows the server's budget nearly
/// spent: a gentle slowdown that usually avoids the 429 altogether.
pub const SOFT_DECREASE_FACTOR: f64 = 0.9;
/// `RateLimit-Remaining` below this share of `RateLimit-Limit` counts as nearly spent.
pub const LOW_REMAINING_SHARE: f64 = 0.1;
/// Longest pause a server's `Retry-After` can impose (a broken header must not stall a run for
/// days); also used when a 429 says nothing about when to retry.
pub const MAX_PAUSE: Duration = Duration::from_secs(300);
/// Pause when a 429 carries no `Retry-After` and no hint in its detail.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// A request rate: `10/s`, `600/min`, `3600/h`, or a bare number of requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    /// A rate of `per_second` requests per second.
    pub fn per_second(per_second: f64) -> Rate {
        Rate { per_second }
    }

    /// Requests per second.
    pub fn as_per_second(self) -> f64 {
        self.per_second
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.per_second < 1.0 {
            write!(f, "{}/min", round2(self.per_second * 60.0))
        } else {
            write!(f, "{}/s", round2(self.per_second))
        }
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Rate, String> {
        let bad = || format!("invalid rate {text:?}: write it like 10/s or 600/min");
        let (count, unit) = match text.trim().split_once('/') {
            Some((count, unit)) => (count.trim(), unit.trim().to_ascii_lowercase()),
            None => (text.trim(), "s".to_owned()),
        };
        let count: f64 = count.parse().map_err(|_| bad())?;
        let seconds = match unit.as_str() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        let per_second = count / seconds;
        if !per_second.is_finite() || per_second <= 0.0 {
            return Err(format!("invalid rate {text:?}: it must be more than zero"));
        }
        Ok(Rate { per_second })
    }
}

/// The governor quota for a rate: evenly spaced requests, with a burst of a tenth of a second's
/// worth (at least one). A burst of a whole period would let the first period send double.
pub fn quota_for(per_second: f64) -> Quota {
    let period = Duration::from_secs_f64(1.0 / per_second.max(1e-6));
    let burst = ((per_second / 10.0).floor() as u32).max(1);
    Quota::with_period(period)
        .expect("a positive rate has a non-zero period")
        .allow_burst(NonZeroU32::new(burst).expect("burst is at least one"))
}

struct GateState {
    limiter: Arc<DefaultDirectRateLimiter>,
    rate: f64,
    paused_until: Option<Instant>,
    last_decrease: Option<Instant>,
    last_change: Instant,
}

/// Paces every worker's requests.
pub struct RateGate {
    configured: f64,
    state: Mutex<GateState>,
}

/// What a 429 did to the gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slowdown {
    /// How long every worker now waits.
    pub pause: Duration,
    /// The rate after adapting, in requests per second.
    pub rate_per_sec: f64,
}

impl RateGate {
    /// A gate at the configured rate.
    pub fn new(rate: Rate) -> RateGate {
        let per_second = rate.as_per_second();
        RateGate {
            configured: per_second,
            state: Mutex::new(GateState {
                limiter: Arc::new(RateLimiter::direct(quota_for(per_second))),
                rate: per_second,
                paused_until: None,
                last_decrease: None,
                last_change: Instant::now(),
            }),
        }
    }

    /// The current rate, in requests per second.
    pub fn current_rate(&self) -> f64 {
        self.lock().rate
    }

    /// Waits until this worker may send one request.
    pub async fn acquire(&self) {
        loop {
            let (limiter, paused_until) = {
                let state = self.lock();
                (state.limiter.clone(), state.paused_until)
            };
            if let Some(until) = paused_until.filter(|u| *u > Instant::now()) {
                tokio::time::sleep_until(until).await;
                continue;
            }
            limiter.until_ready().await;
            // A 429 may have paused everyone while this worker waited for its turn.
            let paused_until = self.lock().paused_until;
            match paused_until.filter(|u| *u > Instant::now()) {
                Some(until) => tokio::time::sleep_until(until).await,
                None => return,
            }
        }
    }

    /// Records an answer that was not a 429: the rate creeps back up after a quiet interval.
    pub fn on_success(&self) {
        self.on_answer(&RateHeaders::default());
    }

    /// Records an answer that was not a 429, with its `RateLimit-*` headers. When they show the
    /// server's budget nearly spent, the rate eases off before a 429 forces it to; otherwise it
    /// creeps back up after a quiet interval.
    pub fn on_answer(&self, headers: &RateHeaders) {
        let now = Instant::now();
        let mut state = self.lock();
        if let (Some(limit), Some(remaining)) = (headers.limit, headers.remaining)
            && limit > 0
            && (remaining as f64) < limit as f64 * LOW_REMAINING_SHARE
        {
            let cooled = state
                .last_decrease
                .is_none_or(|t| now.duration_since(t) >= DECREASE_COOLDOWN);
            if cooled {
                let rate = (state.rate * SOFT_DECREASE_FACTOR).max(MIN_RATE_PER_SEC);
                set_rate(&mut state, rate, now);
                state.last_decrease = Some(now);
            }
            return;
        }
        if state.rate >= self.configured {
            return;
        }
        let quiet_since = state
            .last_decrease
            .unwrap_or(state.last_change)
            .max(state.last_change);
        if now.duration_since(quiet_since) >= INCREASE_INTERVAL {
            let step = (state.rate * INCREASE_STEP).max(MIN_INCREASE_PER_SEC);
            let rate = (state.rate + step).min(self.configured);
            set_rate(&mut state, rate, now);
        }
    }

    /// Records a 429: pauses every worker for `retry_after` (or a default) and lowers the rate,
    /// once per overload.
    pub fn on_rate_limited(&self, retry_after: Option<Duration>) -> Slowdown {
        let pause = retry_after.unwrap_or(DEFAULT_PAUSE).min(MAX_PAUSE);
        let now = Instant::now();
        let mut state = self.lock();
        let until = now + pause;
        if state.paused_until.is_none_or(|u| u < until) {
            state.paused_until = Some(until);
        }
        let cooled = state
            .last_decrease
            .is_none_or(|t| now.duration_since(t) >= DECREASE_COOLDOWN.max(pause));
        if cooled {
            let rate = (state.rate * DECREASE_FACTOR).max(MIN_RATE_PER_SEC);
            set_rate(&mut state, rate, now);
            state.last_decrease = Some(now);
        }
        Slowdown {
            pause,
            rate_per_sec: state.rate,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // The state is plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn set_rate(state: &mut GateState, rate: f64, now: Instant) {
    state.rate = rate;
    state.limiter = Arc::new(RateLimiter::direct(quota_for(rate)));
    state.last_change = now;
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn rates_parse_in_the_documented_forms() {
        assert_eq!("10/s".parse::<Rate>().unwrap().as_per_second(), 10.0);
        assert_eq!("600/min".parse::<Rate>().unwrap().as_per_second(), 10.0);
        assert_eq!("3600/h".parse::<Rate>().unwrap().as_per_second(), 1.0);
        assert_eq!("2.5".parse::<Rate>().unwrap().as_per_second(), 2.5);
        assert_eq!(" 30 / MIN ".parse::<Rate>().unwrap().as_per_second(), 0.5);
        assert!("0/s".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().unwrap_err().contains("10/s"));
        assert!("10/fortnight".parse::<Rate>().is_err());
        assert_eq!(Rate::per_second(0.5).to_string(), "30/min");
        assert_eq!(Rate::per_second(20.0).to_string(), "20/s");
    }

    #[test]
    fn quota_spaces_requests_with_a_small_burst() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota_for(50.0), clock.clone());
        // 50/s allows a burst of 5, then one request every 20 ms.
        for _ in 0..5 {
            assert!(limiter.check().is_ok());
        }
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(20));
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
    }

    #[test]
    fn a_per_minute_quota_does_not_send_a_minute_at_once() {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota_for(1.0), clock.clone());
        assert!(limiter.check().is_ok());
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(999));
        assert!(limiter.check().is_err());
        clock.advance(Duration::from_millis(1));
        assert!(limiter.check().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_and_decreases_once_per_overload() {
        let gate = RateGate::new(Rate::per_second(100.0));
        let first = gate.on_rate_limited(Some(Duration::from_secs(3)));
        assert_eq!(first.pause, Duration::from_secs(3));
        assert!((first.rate_per_sec - 70.0).abs() < 1e-9);
        // A second 429 of the same burst does not decrease again.
        let second = gate.on_rate_limited(None);
        assert!((second.rate_per_sec - 70.0).abs() < 1e-9);
        assert_eq!(second.pause, DEFAULT_PAUSE);
        let start = Instant::now();
        gate.acquire().await;
        assert!(Instant::now() - start >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_creeps_back_after_quiet_intervals_but_not_above_configured() {
        let gate = RateGate::new(Rate::per_second(10.0));
        gate.on_rate_limited(Some(Duration::from_millis(10)));
        assert!((gate.current_rate() - 7.0).abs() < 1e-9);
        gate.on_success();
        assert!((gate.current_rate() - 7.0).abs() < 1e-9);
        tokio::time::advance(INCREASE_INTERVAL).await;
        gate.on_success();
        assert!((gate.current_rate() - 7.35).abs() < 1e-9);
        for _ in 0..20 {
            tokio::time::advance(INCREASE_INTERVAL).await;
            gate.on_success();
        }
        assert!((gate.current_rate() - 10.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn a_nearly_spent_budget_eases_the_rate_without_pausing() {
        let gate = RateGate::new(Rate::per_second(100.0));
        let low = RateHeaders {
            retry_after: None,
            limit: Some(100),
            remaining: Some(3),
        };
        gate.on_answer(&low);
        assert!((gate.current_rate() - 90.0).abs() < 1e-9);
        // Once per cooldown, and never a pause.
        gate.on_answer(&low);
        assert!((gate.current_rate() - 90.0).abs() < 1e-9);
        let start = Instant::now();
        gate.acquire().await;
        assert_eq!(Instant::now(), start);
        // A healthy budget lets it grow again after a quiet interval.
        tokio::time::advance(INCREASE_INTERVAL).await;
        gate.on_answer(&RateHeaders {
            retry_after: None,
            limit: Some(100),
            remaining: Some(80),
        });
        assert!(gate.current_rate() > 90.0);
    }

    #[test]
    fn the_rate_never_adapts_below_the_floor() {
        let gate = RateGate::new(Rate::per_second(0.25));
        let slowdown = gate.on_rate_limited(None);
        assert_eq!(slowdown.rate_per_sec, MIN_RATE_PER_SEC);
    }
}
