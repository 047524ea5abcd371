//! When a failed delivery is tried again: exponential backoff with jitter.
//!
//! After attempt `n` fails, the next waits `base × FACTORS[n - 1]` (the last
//! factor for later ones), ±20%: with the default 10 s base that is 10 s,
//! 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h — eleven attempts over
//! about a day. The jitter spreads retries of many deliveries that failed
//! together (an endpoint that was down) so they do not all return at once.

use std::time::Duration;

/// Multiples of the base delay, per failed attempt.
const FACTORS: [u32; 10] = [1, 3, 12, 60, 180, 360, 720, 1440, 2880, 2880];

/// The delay before the attempt after failed attempt `n` (1-based), before
/// jitter.
pub(super) fn nominal(base: Duration, n: i64) -> Duration {
    let i = usize::try_from(n.max(1) - 1)
        .unwrap_or(usize::MAX)
        .min(FACTORS.len() - 1);
    base.saturating_mul(FACTORS[i])
}

/// The delay before the attempt after failed attempt `n`, jittered ±20%.
pub(super) fn delay(base: Duration, n: i64) -> Duration {
    nominal(base, n).mul_f64(rand::random_range(0.8..=1.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_backs_off_to_eight_hours() {
        let base = Duration::from_secs(10);
        let secs: Vec<u64> = (1..=11).map(|n| nominal(base, n).as_secs()).collect();
        assert_eq!(
            secs,
            [
                10, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800
            ]
        );
        for n in 1..=11 {
            let d = delay(base, n).as_secs_f64();
            let want = nominal(base, n).as_secs_f64();
            assert!(d >= want * 0.79 && d <= want * 1.21, "{n}: {d} vs {want}");
        }
    }
}
