//! The client-side rate limit shared by every worker: a copy of Atlas's token bucket.
//!
//! Atlas limits each endpoint set with a token bucket (a capacity, refilled at a steady rate)
//! and refuses what does not fit with a 429. The gate keeps its own bucket shaped like Atlas's,
//! so that requests leave at the pace Atlas admits them:
//!
//! - **Learned limit.** Capacity and refill come from `GET /rateLimits` at the start of a run,
//!   or from a refusal's detail ("Request capacity: 10. Refill rate: 5 per 60 seconds.", or the
//!   older "Rate limit of 10 invitations per 1 minutes"). The gate then paces at the refill
//!   with bursts of at most the capacity, leaving [`CUSHION`]'s worth of tokens in Atlas's
//!   bucket for arrival jitter (see [`paced`]). A refusal means
//!   Atlas's bucket is empty: the copy is emptied too and the next request waits for the next
//!   token, not for a whole second of `Retry-After` (which Atlas rounds up), and the rate is
//!   never cut. A `Retry-After` longer than one token's refill is honoured as given.
//! - **Unknown limit.** Without a stated bucket the gate adapts: it doubles its rate every
//!   quiet [`ADAPT_INTERVAL`] while no refusal has come yet and the gate is what holds the run
//!   back (probing, from a conservative start), cuts it by [`DECREASE_FACTOR`] on a 429, and
//!   recovers by [`RECOVERY_STEP`] per quiet interval (seconds, not minutes). `RateLimit-Limit`
//!   gives the capacity, and a nearly spent `RateLimit-Remaining` eases the rate before a 429.
//! - **Explicit `--rate`.** An upper bound: a second bucket refilled at that rate. Its burst is
//!   the caller's share of Atlas's capacity (the capacity times `--rate` over Atlas's refill,
//!   at most the capacity), or a tenth of a second's worth while Atlas's limit is unknown.
//!
//! Both buckets change shape in place, keeping their tokens (never more than the new
//! capacity): a change of rate never hands out a fresh burst. Workers wait in turn (a fair
//! queue) and each one's turn is measured from the real time the previous one left, so a late
//! wake-up never squeezes two requests closer than the pace allows.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::atlas::client::AtlasClient;
use crate::atlas::error::{RateHeaders, RateLimitHint};
use crate::atlas::rate_limits::{BucketLimit, Declared};

// The bounds of `--rate` (one request an hour, 100,000 a second), shared with the simulator's
// `--rate-limit`, which reads rates with the same parser.
pub use atlas_model::rate::{MAX_RATE_PER_SEC, MIN_RATE_PER_SEC};
/// An adapted (not learned) rate never falls below this, so a run always makes progress.
pub const ADAPT_FLOOR_PER_SEC: f64 = 0.2;
/// How much earlier than its turn a request may reach Atlas without being refused, when the
/// bucket has no room for a cushion (a capacity of 1): requests are spaced this much more than
/// one token's refill. Atlas checks each request when it arrives, and arrivals jitter by a few
/// milliseconds (scheduling, the network); with a bucket run dry, a request that arrives a
/// hair early is refused.
pub const ARRIVAL_JITTER: Duration = Duration::from_millis(5);
/// The refill left in Atlas's bucket when its capacity has room for it: arrivals may come this
/// much early without a refusal, at no cost in rate (the cushion is kept, not spent).
pub const CUSHION: Duration = Duration::from_millis(20);
/// Factor applied to an adapted rate on a 429 when Atlas did not state its limit.
pub const DECREASE_FACTOR: f64 = 0.7;
/// Further 429s within this window of a decrease are the same overload.
pub const DECREASE_COOLDOWN: Duration = Duration::from_secs(1);
/// How often an adapted rate may grow.
pub const ADAPT_INTERVAL: Duration = Duration::from_secs(1);
/// Growth per interval before the first sign of Atlas's limit (probing from the start rate).
pub const PROBE_FACTOR: f64 = 2.0;
/// Growth per quiet interval after a decrease: back from 0.7 in about four seconds.
pub const RECOVERY_STEP: f64 = 0.10;
/// Factor applied when `RateLimit-Remaining` shows Atlas's bucket nearly spent.
pub const SOFT_DECREASE_FACTOR: f64 = 0.9;
/// `RateLimit-Remaining` below this share of `RateLimit-Limit` counts as nearly spent.
pub const LOW_REMAINING_SHARE: f64 = 0.1;
/// Longest pause a server can impose (a broken header must not stall a run for days).
pub const MAX_PAUSE: Duration = Duration::from_secs(300);
/// Pause after a 429 that says nothing about when to retry or about its bucket.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// A request rate: `10/s`, `600/min`, `3600/h`, `5/6s` (five every six seconds), or a bare
/// number of requests per second. Between [`MIN_RATE_PER_SEC`] and [`MAX_RATE_PER_SEC`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    /// A rate of `per_second` requests per second (not range-checked: for code, not people).
    pub fn per_second(per_second: f64) -> Rate {
        Rate { per_second }
    }

    /// Requests per second.
    pub fn as_per_second(self) -> f64 {
        self.per_second
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

    /// Read by [`atlas_model::rate::parse_per_second`], the parser the simulator's
    /// `--rate-limit` uses too.
    fn from_str(text: &str) -> Result<Rate, String> {
        atlas_model::rate::parse_per_second(text).map(|per_second| Rate { per_second })
    }
}

/// `--rate`: `auto` (follow what Atlas declares and answers) or an upper bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateSetting {
    Auto,
    Max(Rate),
}

impl FromStr for RateSetting {
    type Err = String;

    fn from_str(text: &str) -> Result<RateSetting, String> {
        if text.trim().eq_ignore_ascii_case("auto") {
            Ok(RateSetting::Auto)
        } else {
            text.parse().map(RateSetting::Max)
        }
    }
}

impl fmt::Display for RateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateSetting::Auto => f.write_str("auto"),
            RateSetting::Max(rate) => write!(f, "at most {rate}"),
        }
    }
}

/// Where the gate learned Atlas's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// `GET /rateLimits`.
    Declared,
    /// The detail of a 429.
    Refusal,
    /// The older invitation limit's 400.
    Legacy,
}

impl LimitSource {
    /// As the JSON summary names it.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitSource::Declared => "rateLimits",
            LimitSource::Refusal => "429",
            LimitSource::Legacy => "legacy 400",
        }
    }
}

/// How the gate paces a known bucket: the refill and the tokens it leaves in Atlas's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paced {
    /// Requests per second.
    pub per_sec: f64,
    /// Tokens a request needs in the copy before it leaves: one, plus a cushion.
    pub need: f64,
}

/// The pace for Atlas's `limit`: [`CUSHION`]'s worth of refill left in the bucket as far as its
/// capacity has room for it (the refill rate itself is kept), and where the cushion covers
/// less than [`ARRIVAL_JITTER`] (a capacity of 1), requests spaced the rest more than one
/// token's refill.
pub fn paced(limit: BucketLimit) -> Paced {
    let rate = limit.per_second();
    let cushion = (rate * CUSHION.as_secs_f64())
        .min(limit.capacity as f64 - 1.0)
        .max(0.0);
    let uncovered = (ARRIVAL_JITTER.as_secs_f64() - cushion / rate).max(0.0);
    Paced {
        per_sec: 1.0 / (1.0 / rate + uncovered),
        need: 1.0 + cushion,
    }
}

/// A token bucket measured in fractional tokens.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    capacity: f64,
    per_sec: f64,
    /// Tokens needed for one request to leave (one, or more to leave a cushion).
    need: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(capacity: f64, per_sec: f64, now: Instant) -> Bucket {
        Bucket {
            capacity,
            per_sec,
            need: 1.0,
            tokens: capacity,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if now > self.at {
            let elapsed = (now - self.at).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
            self.at = now;
        }
    }

    /// How long until a request may leave (zero if it may).
    fn wait(&self) -> Duration {
        if self.tokens >= self.need {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(((self.need - self.tokens) / self.per_sec).min(1e9))
        }
    }

    /// Requests that may leave at once now.
    fn ready(&self) -> f64 {
        (self.tokens - self.need + 1.0).max(0.0).floor()
    }

    /// A new capacity and refill, keeping the tokens (never more than the new capacity).
    fn reshape(&mut self, capacity: f64, per_sec: f64, need: f64, now: Instant) {
        self.refill(now);
        self.capacity = capacity;
        self.per_sec = per_sec;
        self.need = need;
        self.tokens = self.tokens.min(capacity);
    }
}

/// What the gate knows about Atlas's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learned {
    pub limit: BucketLimit,
    pub source: LimitSource,
}

struct GateState {
    learned: Option<Learned>,
    /// `RateLimit-Limit` (or a detail's capacity alone) while the refill is unknown.
    header_capacity: Option<u64>,
    /// The rate while the limit is unknown.
    adaptive: f64,
    /// No sign of Atlas's limit yet: the adapted rate grows fast.
    probing: bool,
    /// The copy of Atlas's bucket (or the adapted pace).
    pace: Bucket,
    /// The explicit `--rate`, if any.
    ceiling: Option<Bucket>,
    paused_until: Option<Instant>,
    last_decrease: Option<Instant>,
    last_adapt: Instant,
    /// A worker had to wait since the last adaptation: the gate is what limits the run.
    waited: bool,
    refusals: u64,
}

/// Paces every worker's requests.
pub struct RateGate {
    ceiling: Option<f64>,
    /// Workers wait for the gate one at a time, in arrival order.
    turn: tokio::sync::Mutex<()>,
    state: Mutex<GateState>,
}

/// What a 429 did to the gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slowdown {
    /// How long until the next request may leave.
    pub pause: Duration,
    /// The pace now, in requests per second.
    pub rate_per_sec: f64,
}

/// The gate as the display shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GateView {
    pub learned: Option<Learned>,
    /// The pace, in requests per second.
    pub rate_per_sec: f64,
    /// How long until the next request may leave.
    pub next_in: Duration,
    /// Whole requests that may leave at once now.
    pub ready: u64,
    /// 429s (and legacy 400s) seen.
    pub refusals: u64,
}

impl GateView {
    /// How long `requests` more take at the gate's pace, when Atlas's limit is known.
    pub fn eta(&self, requests: u64) -> Option<Duration> {
        self.learned?;
        if requests <= self.ready {
            return Some(Duration::ZERO);
        }
        // The first beyond those ready leaves after `next_in` (or about then), the rest one
        // token's refill apart.
        let later = (requests - self.ready - 1) as f64;
        Some(self.next_in + Duration::from_secs_f64((later / self.rate_per_sec).min(1e9)))
    }
}

impl RateGate {
    /// A gate for `setting`: `auto` starts from Atlas's `declared` bucket, or from `fallback`
    /// (growing until Atlas says where its limit is); an explicit rate is an upper bound, and
    /// the start when Atlas declared nothing.
    pub fn new(setting: RateSetting, fallback: Rate, declared: Option<BucketLimit>) -> RateGate {
        let ceiling = match setting {
            RateSetting::Auto => None,
            RateSetting::Max(rate) => Some(rate.as_per_second()),
        };
        let adaptive = ceiling.unwrap_or(fallback.as_per_second());
        let now = Instant::now();
        let learned = declared.map(|limit| Learned {
            limit,
            source: LimitSource::Declared,
        });
        let mut state = GateState {
            learned,
            header_capacity: None,
            adaptive,
            probing: ceiling.is_none(),
            pace: Bucket::full(1.0, adaptive, now),
            ceiling: None,
            paused_until: None,
            last_decrease: None,
            last_adapt: now,
            waited: false,
            refusals: 0,
        };
        let (capacity, per_sec, need) = state.pace_shape();
        state.pace = Bucket {
            need,
            ..Bucket::full(capacity, per_sec, now)
        };
        state.ceiling = ceiling.map(|rate| {
            let (capacity, per_sec) = ceiling_shape(rate, state.learned);
            Bucket::full(capacity, per_sec, now)
        });
        RateGate {
            ceiling,
            turn: tokio::sync::Mutex::new(()),
            state: Mutex::new(state),
        }
    }

    /// A gate at an explicit rate with nothing known about Atlas.
    pub fn fixed(rate: Rate) -> RateGate {
        RateGate::new(RateSetting::Max(rate), rate, None)
    }

    /// The current pace, in requests per second.
    pub fn current_rate(&self) -> f64 {
        self.lock().rate()
    }

    /// What the gate knows and when the next request may leave.
    pub fn view(&self) -> GateView {
        let now = Instant::now();
        let mut state = self.lock();
        state.refill(now);
        let ready = match &state.ceiling {
            Some(c) => state.pace.ready().min(c.ready()),
            None => state.pace.ready(),
        };
        GateView {
            learned: state.learned,
            rate_per_sec: state.rate(),
            next_in: state.wait(now),
            ready: ready as u64,
            refusals: state.refusals,
        }
    }

    /// Waits until this worker may send one request, and takes its token.
    pub async fn acquire(&self) {
        let _turn = self.turn.lock().await;
        loop {
            let now = Instant::now();
            let wait = {
                let mut state = self.lock();
                state.refill(now);
                let wait = state.wait(now);
                if wait.is_zero() {
                    state.take();
                    return;
                }
                state.waited = true;
                wait
            };
            // Measured again after the sleep: a 429 meanwhile may have emptied the bucket.
            tokio::time::sleep_until(now + wait).await;
        }
    }

    /// Records an answer that was not a rate-limit refusal.
    pub fn on_success(&self) {
        self.on_answer(&RateHeaders::default());
    }

    /// Records an answer that was not a rate-limit refusal, with its `RateLimit-*` headers:
    /// `RateLimit-Limit` is Atlas's capacity, and a `RateLimit-Remaining` below the copy's
    /// tokens (someone else shares the bucket) lowers them. While the limit is unknown, a
    /// nearly spent budget eases the rate; otherwise it grows after a quiet interval.
    pub fn on_answer(&self, headers: &RateHeaders) {
        let now = Instant::now();
        let mut state = self.lock();
        if let Some(limit) = headers.limit.filter(|l| *l > 0)
            && state.learned.is_none()
            && state.header_capacity != Some(limit)
        {
            state.header_capacity = Some(limit);
            state.reshape(now);
        }
        if let Some(remaining) = headers.remaining {
            state.pace.refill(now);
            if (remaining as f64) + 1.0 < state.pace.tokens {
                state.pace.tokens = remaining as f64;
            }
        }
        if state.learned.is_some() {
            return;
        }
        if let (Some(limit), Some(remaining)) = (headers.limit, headers.remaining)
            && limit > 0
            && (remaining as f64) < limit as f64 * LOW_REMAINING_SHARE
        {
            state.probing = false;
            if state.cooled(now) {
                let rate = state.adaptive * SOFT_DECREASE_FACTOR;
                state.set_adaptive(rate, now);
                state.last_decrease = Some(now);
            }
            return;
        }
        let ceiling = self.ceiling.unwrap_or(MAX_RATE_PER_SEC);
        state.grow(ceiling, now);
    }

    /// Records a rate-limit refusal (429, or the older invitation limit's 400). Atlas's bucket
    /// is empty: the copy is emptied too. With the limit known (now or before), the next
    /// request waits for the next token (for the whole window after the older limit's 400)
    /// and the rate stays; a `Retry-After` longer than one token's refill is honoured. With
    /// the limit unknown, every worker pauses for `Retry-After` (or a default) and the rate
    /// drops, once per overload.
    pub fn on_rate_limited(&self, hint: &RateLimitHint) -> Slowdown {
        let now = Instant::now();
        let mut state = self.lock();
        state.refusals += 1;
        state.probing = false;
        if let Some(limit) = hint.stated.bucket() {
            let source = if hint.stated.legacy {
                LimitSource::Legacy
            } else {
                LimitSource::Refusal
            };
            // What was known stays known (and credited to where it came from); a refusal
            // naming another bucket adds its constraint.
            let learned = match state.learned {
                Some(known) if known.limit.stricter(limit) == known.limit => known,
                Some(known) => Learned {
                    limit: known.limit.stricter(limit),
                    source,
                },
                None => Learned { limit, source },
            };
            state.learned = Some(learned);
            state.reshape(now);
            if let Some(ceiling) = self.ceiling {
                let (capacity, per_sec) = ceiling_shape(ceiling, state.learned);
                if let Some(bucket) = &mut state.ceiling {
                    bucket.reshape(capacity, per_sec, 1.0, now);
                }
            }
        } else if let Some(capacity) = hint.stated.capacity.or(hint.headers.limit)
            && capacity > 0
            && state.learned.is_none()
        {
            state.header_capacity = Some(capacity);
            state.reshape(now);
        }
        state.pace.refill(now);
        state.pace.tokens = state.pace.tokens.min(0.0);
        let pause = match state.learned {
            Some(learned) if hint.stated.legacy => learned.limit.per,
            Some(learned) => {
                let token = Duration::from_secs_f64(1.0 / learned.limit.per_second());
                // Atlas rounds the wait for one token up to whole seconds: a Retry-After no
                // longer than that rounding is the next token, which the copy already waits for.
                let rounded = Duration::from_secs(token.as_secs_f64().ceil().max(1.0) as u64);
                match hint.retry_after {
                    Some(after) if after > rounded => after,
                    _ => Duration::ZERO,
                }
            }
            None => {
                if state.cooled(now) {
                    let rate = state.adaptive * DECREASE_FACTOR;
                    state.set_adaptive(rate, now);
                    state.last_decrease = Some(now);
                }
                hint.retry_after.unwrap_or(DEFAULT_PAUSE)
            }
        }
        .min(MAX_PAUSE);
        if !pause.is_zero() {
            let until = now + pause;
            if state.paused_until.is_none_or(|u| u < until) {
                state.paused_until = Some(until);
            }
        }
        Slowdown {
            pause: state.wait(now),
            rate_per_sec: state.rate(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // The state is plain numbers; a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl GateState {
    /// The pace's capacity, refill and tokens needed per request: Atlas's bucket when known
    /// (see [`paced`]), else the adapted rate with the stated capacity or a tenth of a
    /// second's worth.
    fn pace_shape(&self) -> (f64, f64, f64) {
        match self.learned {
            Some(learned) => {
                let pace = paced(learned.limit);
                (learned.limit.capacity as f64, pace.per_sec, pace.need)
            }
            None => (
                self.header_capacity
                    .map_or_else(|| small_burst(self.adaptive), |c| c as f64),
                self.adaptive,
                1.0,
            ),
        }
    }

    fn reshape(&mut self, now: Instant) {
        let (capacity, per_sec, need) = self.pace_shape();
        self.pace.reshape(capacity, per_sec, need, now);
    }

    fn set_adaptive(&mut self, rate: f64, now: Instant) {
        // The `--rate` bucket still holds the pace below the floor when it is lower.
        self.adaptive = rate.max(ADAPT_FLOOR_PER_SEC);
        self.last_adapt = now;
        self.reshape(now);
    }

    /// Grows the adapted rate once per quiet interval in which the gate held workers back.
    fn grow(&mut self, ceiling: f64, now: Instant) {
        if now.duration_since(self.last_adapt) < ADAPT_INTERVAL {
            return;
        }
        let waited = std::mem::take(&mut self.waited);
        self.last_adapt = now;
        if !waited || self.adaptive >= ceiling || !self.cooled(now) {
            return;
        }
        let factor = if self.probing {
            PROBE_FACTOR
        } else {
            1.0 + RECOVERY_STEP
        };
        let rate = (self.adaptive * factor).min(ceiling);
        self.set_adaptive(rate, now);
    }

    fn cooled(&self, now: Instant) -> bool {
        self.last_decrease
            .is_none_or(|t| now.duration_since(t) >= DECREASE_COOLDOWN)
    }

    fn refill(&mut self, now: Instant) {
        self.pace.refill(now);
        if let Some(c) = &mut self.ceiling {
            c.refill(now);
        }
    }

    /// How long until a request may leave (buckets refilled to `now`).
    fn wait(&self, now: Instant) -> Duration {
        let paused = self
            .paused_until
            .map_or(Duration::ZERO, |u| u.saturating_duration_since(now));
        let ceiling = self.ceiling.as_ref().map_or(Duration::ZERO, Bucket::wait);
        paused.max(self.pace.wait()).max(ceiling)
    }

    fn take(&mut self) {
        self.pace.tokens -= 1.0;
        if let Some(c) = &mut self.ceiling {
            c.tokens -= 1.0;
        }
    }

    fn rate(&self) -> f64 {
        match &self.ceiling {
            Some(c) => self.pace.per_sec.min(c.per_sec),
            None => self.pace.per_sec,
        }
    }
}

/// The gate of a run, and how the run is paced in a few words ("auto: Atlas allows 5 per 60 s,
/// capacity 10 for POST …"). Asks `GET /rateLimits` what Atlas declares for the invite
/// endpoint, unless there is nothing to send; a refusal or failure there only means the limit
/// is learned from the answers instead.
pub async fn gate_for_run(
    client: &AtlasClient,
    setting: RateSetting,
    fallback: Rate,
    nothing_to_send: bool,
) -> (Arc<RateGate>, String) {
    let declared = if nothing_to_send {
        None
    } else {
        Some(client.declared_limit(client.api().invite_endpoint()).await)
    };
    let limit = declared.as_ref().and_then(Declared::limit);
    // The line that shows it names the endpoint already.
    let endpoint = client.api().invite_endpoint();
    let what = declared.as_ref().map(|d| {
        d.describe(endpoint)
            .replace(&format!(" for {endpoint}"), "")
    });
    let pace = match (setting, limit, what) {
        (_, _, None) => format!("at rate {setting}"),
        (RateSetting::Auto, Some(_), Some(what)) => format!("at auto rate ({what})"),
        (RateSetting::Auto, None, Some(what)) => {
            format!("at auto rate, from {fallback} ({what})")
        }
        (RateSetting::Max(rate), _, Some(what)) => format!("at most {rate} ({what})"),
    };
    let gate = RateGate::new(setting, fallback, limit);
    // The check before the run and the capacity count may have spent tokens of the bucket the
    // invitations draw from: a gate that started full would send them again and be refused.
    if let Some(headers) = client.last_rate_headers() {
        gate.on_answer(&headers);
    }
    (Arc::new(gate), pace)
}

/// A tenth of a second's worth of requests, at least one: a burst that does not send a whole
/// period's requests at once.
fn small_burst(per_sec: f64) -> f64 {
    (per_sec / 10.0).floor().max(1.0)
}

/// The `--rate` bucket: refilled at `rate`, with the caller's share of Atlas's capacity as its
/// burst when Atlas's limit is known.
fn ceiling_shape(rate: f64, learned: Option<Learned>) -> (f64, f64) {
    let capacity = match learned {
        Some(learned) => {
            let capacity = learned.limit.capacity as f64;
            (capacity * rate / learned.limit.per_second())
                .floor()
                .clamp(1.0, capacity)
        }
        None => small_burst(rate),
    };
    (capacity, rate)
}

#[cfg(test)]
mod tests;
