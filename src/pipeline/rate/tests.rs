//! The gate on tokio's paused clock: what leaves when, counted, never timed against the wall.

use super::*;
use crate::atlas::rate_limits::StatedLimit;

fn bucket(capacity: u64, refill: u64, per_secs: u64) -> BucketLimit {
    BucketLimit::new(capacity, refill, Duration::from_secs(per_secs)).unwrap()
}

/// Takes `n` tokens one after the other and returns when each left.
async fn take(gate: &RateGate, n: usize) -> Vec<Instant> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        gate.acquire().await;
        times.push(Instant::now());
    }
    times
}

/// Asserts that no window holds more than `capacity` plus what `per_sec` refills in it.
fn assert_within(times: &[Instant], capacity: f64, per_sec: f64) {
    for (i, start) in times.iter().enumerate() {
        for (j, end) in times.iter().enumerate().skip(i) {
            let sent = (j - i + 1) as f64;
            let allowed = capacity + per_sec * (*end - *start).as_secs_f64();
            assert!(
                sent <= allowed + 1e-6,
                "{sent} requests in {:?}, only {allowed:.3} allowed",
                *end - *start
            );
        }
    }
}

fn refusal(stated: StatedLimit, retry_after: Option<u64>) -> RateLimitHint {
    RateLimitHint {
        retry_after: retry_after.map(Duration::from_secs),
        stated,
        headers: RateHeaders::default(),
    }
}

fn token_bucket_refusal(capacity: u64, refill: u64, per: u64, retry_after: u64) -> RateLimitHint {
    refusal(
        StatedLimit {
            capacity: Some(capacity),
            refill: Some((refill, Duration::from_secs(per))),
            legacy: false,
        },
        Some(retry_after),
    )
}

#[test]
fn rates_parse_in_the_documented_forms() {
    assert_eq!("10/s".parse::<Rate>().unwrap().as_per_second(), 10.0);
    assert_eq!("600/min".parse::<Rate>().unwrap().as_per_second(), 10.0);
    assert_eq!("3600/h".parse::<Rate>().unwrap().as_per_second(), 1.0);
    assert_eq!("2.5".parse::<Rate>().unwrap().as_per_second(), 2.5);
    assert_eq!(" 30 / MIN ".parse::<Rate>().unwrap().as_per_second(), 0.5);
    assert_eq!("5/6s".parse::<Rate>().unwrap().as_per_second(), 5.0 / 6.0);
    assert_eq!(
        "10/2min".parse::<Rate>().unwrap().as_per_second(),
        10.0 / 120.0
    );
    assert!("0/s".parse::<Rate>().is_err());
    assert!("fast".parse::<Rate>().unwrap_err().contains("10/s"));
    assert!("10/fortnight".parse::<Rate>().is_err());
    assert!("5/0s".parse::<Rate>().is_err());
    assert_eq!(Rate::per_second(0.5).to_string(), "30/min");
    assert_eq!(Rate::per_second(20.0).to_string(), "20/s");
}

#[test]
fn rates_out_of_range_are_refused_with_the_bounds() {
    for text in ["1e10/s", "100001/s", "0.5/h", "inf", "NaN"] {
        let err = text.parse::<Rate>().unwrap_err();
        assert!(
            err.contains("1/h and 100000/s") || err.contains("invalid rate"),
            "{text}: {err}"
        );
    }
    assert!("100000/s".parse::<Rate>().is_ok());
    assert!("1/h".parse::<Rate>().is_ok());
    assert_eq!("auto".parse::<RateSetting>(), Ok(RateSetting::Auto));
    assert_eq!(
        "20/s".parse::<RateSetting>(),
        Ok(RateSetting::Max(Rate::per_second(20.0)))
    );
    assert!("1e10/s".parse::<RateSetting>().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_declared_bucket_bursts_its_capacity_then_paces_at_the_refill() {
    let gate = RateGate::new(
        RateSetting::Auto,
        Rate::per_second(1.0),
        Some(bucket(3, 10, 1)),
    );
    let start = Instant::now();
    let times = take(&gate, 30).await;
    // Two at once, the third after the cushion, the rest one token's refill apart.
    assert!(times[..2].iter().all(|t| *t == start));
    assert_eq!(times[2] - start, CUSHION);
    assert_within(&times, 3.0, 10.0);
    // At the refill: 27 more tokens at 10/s take 2.7 s, and the cushion 20 ms.
    let took = (times[29] - start).as_secs_f64();
    assert!((took - 2.72).abs() < 1e-3, "{took}");
}

#[tokio::test(start_paused = true)]
async fn after_a_pause_the_burst_is_still_at_most_the_capacity() {
    let gate = RateGate::new(
        RateSetting::Auto,
        Rate::per_second(1.0),
        Some(bucket(2, 10, 1)),
    );
    take(&gate, 5).await;
    tokio::time::advance(Duration::from_secs(60)).await;
    let times = take(&gate, 10).await;
    assert_eq!(times[1] - times[0], CUSHION);
    assert!(times[2] > times[1]);
    assert_within(&times, 2.0, 10.0);
}

#[tokio::test(start_paused = true)]
async fn a_change_of_rate_hands_out_no_fresh_burst() {
    // Unknown limit: the pace adapts, and every change keeps the tokens it had.
    let gate = RateGate::fixed(Rate::per_second(100.0));
    let spent = take(&gate, 10).await;
    assert_within(&spent, 10.0, 100.0);
    let before = Instant::now();
    gate.on_rate_limited(&refusal(StatedLimit::default(), Some(0)));
    let after_cut = take(&gate, 5).await;
    assert!(
        after_cut[0] > before,
        "the cut rate started with a full bucket"
    );
    // Learning a capacity of 50 from a header does not fill the bucket to 50 either.
    gate.on_answer(&RateHeaders {
        retry_after: None,
        limit: Some(50),
        remaining: None,
    });
    let now = Instant::now();
    let next = take(&gate, 2).await;
    assert!(next[1] > now, "{:?}", next[1] - now);
}

#[tokio::test(start_paused = true)]
async fn a_429_with_a_known_limit_waits_for_the_next_token_and_keeps_the_rate() {
    let gate = RateGate::new(
        RateSetting::Auto,
        Rate::per_second(1.0),
        Some(bucket(1, 10, 1)),
    );
    take(&gate, 3).await;
    let rate = gate.current_rate();
    // Atlas rounds 0.1 s up to Retry-After: 1.
    let slowdown = gate.on_rate_limited(&token_bucket_refusal(1, 10, 1, 1));
    assert_eq!(gate.current_rate(), rate, "the rate was cut");
    assert!(slowdown.pause < Duration::from_millis(150), "{slowdown:?}");
    let start = Instant::now();
    gate.acquire().await;
    let waited = Instant::now() - start;
    assert!(waited > Duration::ZERO && waited < Duration::from_millis(150));
    // Many refusals in a row do not cut it either.
    for _ in 0..10 {
        gate.on_rate_limited(&token_bucket_refusal(1, 10, 1, 1));
    }
    assert_eq!(gate.current_rate(), rate);
    assert_eq!(gate.view().refusals, 11);
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_is_honoured_even_with_a_known_limit() {
    let gate = RateGate::new(
        RateSetting::Auto,
        Rate::per_second(1.0),
        Some(bucket(10, 5, 60)),
    );
    // 12 s per token, rounded up to 12: 55 s says more than the rounding.
    let slowdown = gate.on_rate_limited(&token_bucket_refusal(10, 5, 60, 55));
    assert_eq!(slowdown.pause, Duration::from_secs(55));
    let start = Instant::now();
    gate.acquire().await;
    assert_eq!(Instant::now() - start, Duration::from_secs(55));
}

#[tokio::test(start_paused = true)]
async fn the_limit_is_learned_from_a_429_detail() {
    let gate = RateGate::new(RateSetting::Auto, Rate::per_second(1.0), None);
    assert_eq!(gate.view().learned, None);
    gate.on_rate_limited(&token_bucket_refusal(10, 5, 60, 55));
    let view = gate.view();
    assert_eq!(
        view.learned,
        Some(Learned {
            limit: bucket(10, 5, 60),
            source: LimitSource::Refusal
        })
    );
    let pace = paced(bucket(10, 5, 60));
    assert!((view.rate_per_sec - pace.per_sec).abs() < 1e-9);
    assert!(pace.per_sec <= 5.0 / 60.0);
    assert_eq!(view.next_in, Duration::from_secs(55));
    // The ETA follows from it: 55 s to the next token, then one per 12 s.
    let eta = view.eta(3).unwrap();
    assert!(
        (eta.as_secs_f64() - (55.0 + 2.0 * 12.0)).abs() < 0.01,
        "{eta:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_legacy_limit_waits_for_its_window() {
    let gate = RateGate::new(RateSetting::Auto, Rate::per_second(1.0), None);
    let legacy = refusal(
        StatedLimit {
            capacity: Some(10),
            refill: Some((10, Duration::from_secs(60))),
            legacy: true,
        },
        None,
    );
    let slowdown = gate.on_rate_limited(&legacy);
    assert_eq!(slowdown.pause, Duration::from_secs(60));
    assert_eq!(gate.view().learned.unwrap().source, LimitSource::Legacy);
    let start = Instant::now();
    let times = take(&gate, 12).await;
    assert_eq!(times[0] - start, Duration::from_secs(60));
    // The window refilled most of the bucket: a burst, then the pace.
    assert_within(&times, 10.0, 10.0 / 60.0);
    assert!(times[8] == times[0]);
}

#[tokio::test(start_paused = true)]
async fn the_capacity_is_learned_from_rate_limit_headers() {
    let gate = RateGate::fixed(Rate::per_second(50.0));
    take(&gate, 5).await;
    gate.on_answer(&RateHeaders {
        retry_after: None,
        limit: Some(20),
        remaining: Some(15),
    });
    // Remaining below what the copy holds lowers it: someone else shares the bucket.
    gate.on_answer(&RateHeaders {
        retry_after: None,
        limit: Some(20),
        remaining: Some(0),
    });
    let start = Instant::now();
    gate.acquire().await;
    assert!(Instant::now() > start);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_limit_is_probed_then_cut_then_recovered_in_seconds() {
    let gate = RateGate::new(RateSetting::Auto, Rate::per_second(1.0), None);
    // Probing: the gate holds the run back, so the rate doubles each second.
    for _ in 0..4 {
        let n = gate.current_rate().ceil() as usize;
        take(&gate, n + 1).await;
        gate.on_success();
    }
    let probed = gate.current_rate();
    assert!(probed >= 8.0, "{probed}");
    // A 429 that says nothing: cut once per overload.
    let slowdown = gate.on_rate_limited(&refusal(StatedLimit::default(), None));
    assert_eq!(slowdown.pause, DEFAULT_PAUSE);
    let cut = gate.current_rate();
    assert!((cut - probed * DECREASE_FACTOR).abs() < 1e-9);
    gate.on_rate_limited(&refusal(StatedLimit::default(), None));
    assert_eq!(gate.current_rate(), cut);
    // Recovery, by 10 % per busy second: back above the probed rate within seconds.
    let start = Instant::now();
    while gate.current_rate() < probed {
        let n = gate.current_rate().ceil() as usize;
        take(&gate, n + 1).await;
        gate.on_success();
        assert!(Instant::now() - start < Duration::from_secs(15));
    }
}

#[tokio::test(start_paused = true)]
async fn the_rate_does_not_grow_while_the_gate_holds_nobody_back() {
    let gate = RateGate::new(RateSetting::Auto, Rate::per_second(1.0), None);
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(2)).await;
        gate.acquire().await;
        gate.on_success();
    }
    assert_eq!(gate.current_rate(), 1.0);
}

#[tokio::test(start_paused = true)]
async fn a_nearly_spent_budget_eases_the_rate_without_pausing() {
    let gate = RateGate::fixed(Rate::per_second(100.0));
    let low = RateHeaders {
        retry_after: None,
        limit: Some(100),
        remaining: Some(3),
    };
    gate.on_answer(&low);
    assert!((gate.current_rate() - 90.0).abs() < 1e-9);
    gate.on_answer(&low);
    assert!((gate.current_rate() - 90.0).abs() < 1e-9);
}

#[tokio::test(start_paused = true)]
async fn an_explicit_rate_is_never_exceeded() {
    // Atlas allows 10/s with a capacity of 10; --rate 5/s gets half the burst and half the
    // refill.
    let gate = RateGate::new(
        RateSetting::Max(Rate::per_second(5.0)),
        Rate::per_second(5.0),
        Some(bucket(10, 10, 1)),
    );
    let times = take(&gate, 40).await;
    assert_within(&times, 5.0, 5.0);
    assert_eq!(gate.current_rate(), 5.0);
    // Far above Atlas's refill, Atlas's bucket is what paces.
    let fast = RateGate::new(
        RateSetting::Max(Rate::per_second(400.0)),
        Rate::per_second(1.0),
        Some(bucket(10, 10, 1)),
    );
    let times = take(&fast, 40).await;
    assert_within(&times, 10.0, 10.0);
}

#[test]
fn the_pace_leaves_room_for_arrival_jitter() {
    // A capacity of 1 has no room for a cushion: requests are spaced 5 ms more than a token.
    let one = paced(bucket(1, 10, 1));
    assert_eq!(one.need, 1.0);
    assert!((1.0 / one.per_sec - 0.105).abs() < 1e-9);
    // A larger one keeps 20 ms of refill in Atlas's bucket and paces at the refill itself.
    let ten = paced(bucket(10, 10, 1));
    assert!((ten.need - 1.2).abs() < 1e-9);
    assert!((ten.per_sec - 10.0).abs() < 1e-9);
    // Between the two, the cushion fills the room and the spacing covers the rest.
    let two = paced(bucket(2, 1000, 1));
    assert!((two.need - 2.0).abs() < 1e-9);
    assert!((1.0 / two.per_sec - (0.001 + 0.004)).abs() < 1e-9);
}

#[test]
fn an_adapted_rate_never_falls_below_the_floor() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let gate = RateGate::fixed(Rate::per_second(0.25));
        let slowdown = gate.on_rate_limited(&refusal(StatedLimit::default(), None));
        assert_eq!(slowdown.rate_per_sec, ADAPT_FLOOR_PER_SEC);
    });
}

proptest::proptest! {
    /// Any count per any unit parses to count / seconds when it is within 1/h and 100000/s,
    /// and is refused (never panics) otherwise; the parse never depends on spacing or case.
    #[test]
    fn rates_parse_to_count_per_second_or_are_refused(
        count in 0.0f64..1e7,
        times in proptest::option::of(1u32..100),
        unit in proptest::sample::select(vec![("s", 1.0), ("min", 60.0), ("M", 60.0), ("h", 3600.0), ("sec", 1.0)]),
    ) {
        let (name, seconds) = unit;
        let text = match times {
            Some(n) => format!(" {count} / {n}{name} "),
            None => format!("{count}/{name}"),
        };
        let expected = count / (seconds * f64::from(times.unwrap_or(1)));
        match text.parse::<Rate>() {
            Ok(rate) => {
                proptest::prop_assert!((rate.as_per_second() - expected).abs() <= expected * 1e-9);
                proptest::prop_assert!(expected > 0.0 && expected <= MAX_RATE_PER_SEC);
            }
            Err(message) => {
                proptest::prop_assert!(
                    !(MIN_RATE_PER_SEC * (1.0 - 1e-9)..=MAX_RATE_PER_SEC).contains(&expected),
                    "{text} refused: {message}"
                );
            }
        }
    }

    /// Text that is not a rate is refused, never a panic.
    #[test]
    fn any_text_parses_or_is_refused(text in ".{0,20}") {
        let _ = text.parse::<Rate>();
        let _ = text.parse::<RateSetting>();
    }
}
