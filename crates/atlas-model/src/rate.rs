//! Request rates as people write them on a command line — `10/s`, `600/min`, `3600/h`, `5/6s`
//! (five every six seconds) or a bare number per second — read once here for both
//! `atlas-invite --rate` and the simulator's `--rate-limit`, so that the two accept exactly
//! the same texts within the same bounds.

/// The lowest rate: one request an hour. Anything slower is not a run.
pub const MIN_RATE_PER_SEC: f64 = 1.0 / 3600.0;
/// The highest rate: 100,000 requests a second, beyond anything Atlas admits; the bound keeps
/// the arithmetic of token buckets far from overflow.
pub const MAX_RATE_PER_SEC: f64 = 100_000.0;

/// Requests per second from `10/s`, `600/min`, `5/6s`, `1/h` or a bare `10`, between
/// [`MIN_RATE_PER_SEC`] and [`MAX_RATE_PER_SEC`]; the error says how to write one.
pub fn parse_per_second(text: &str) -> Result<f64, String> {
    let bad = || format!("invalid rate {text:?}: write it like 10/s, 600/min or 5/6s");
    let (count, unit) = match text.trim().split_once('/') {
        Some((count, unit)) => (count.trim(), unit.trim().to_ascii_lowercase()),
        None => (text.trim(), "s".to_owned()),
    };
    let count: f64 = count.parse().map_err(|_| bad())?;
    // "6s", "10 min": a number of units.
    let split = unit
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(unit.len());
    let (times, unit) = unit.split_at(split);
    let times: f64 = if times.is_empty() {
        1.0
    } else {
        times.parse().map_err(|_| bad())?
    };
    let seconds = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    let per_second = count / (seconds * times);
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(format!("invalid rate {text:?}: it must be more than zero"));
    }
    // The tolerance lets `1/h` itself in despite the rounding of 1/3600.
    if !(MIN_RATE_PER_SEC * (1.0 - 1e-9)..=MAX_RATE_PER_SEC).contains(&per_second) {
        return Err(format!(
            "rate {text:?} is out of range: use between 1/h and 100000/s"
        ));
    }
    Ok(per_second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_in_every_unit() {
        let close = |text: &str, expected: f64| {
            let got = parse_per_second(text).unwrap();
            assert!((got - expected).abs() < 1e-12, "{text}: {got}");
        };
        close("10/s", 10.0);
        close(" 10 ", 10.0);
        close("600/min", 10.0);
        close("5/6s", 5.0 / 6.0);
        close("3600/h", 1.0);
        close("1/h", 1.0 / 3600.0);
        close("1.5/second", 1.5);
        close("10 / 2 MIN", 10.0 / 120.0);
    }

    #[test]
    fn nonsense_and_out_of_range_rates_say_how_to_write_one() {
        for bad in ["", "fast", "10/day", "x/s", "10/xs", "10/2.5.1s"] {
            let error = parse_per_second(bad).unwrap_err();
            assert!(error.contains("write it like 10/s"), "{bad}: {error}");
        }
        for zero in ["0/s", "-1/s"] {
            assert!(
                parse_per_second(zero)
                    .unwrap_err()
                    .contains("more than zero")
            );
        }
        for far in ["1/2h", "100001/s"] {
            assert!(parse_per_second(far).unwrap_err().contains("out of range"));
        }
    }
}
