//! A latency histogram cheap enough to update once per delivery in every reader.
//!
//! Log-linear buckets over microseconds: exact below 64 µs, then 32 buckets per
//! power of two (≤ 3% relative error), up to about 19 hours. Each reader owns one
//! and they are merged at the end, so recording is an add to a local array.

use serde::Serialize;

const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
const MAX_EXP: u32 = 36;
const BUCKETS: usize = LINEAR as usize + ((MAX_EXP - 6 + 1) * SUB as u32) as usize;

/// Counts of latencies, in microseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u32>,
    count: u64,
    max_us: u64,
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value seen (exact).
    pub max: f64,
    /// Number of values.
    pub count: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    /// An empty histogram. The bucket array is allocated on the first record, so
    /// readers that never see a delivery cost nothing.
    pub fn new() -> Histogram {
        Histogram {
            counts: Vec::new(),
            count: 0,
            max_us: 0,
        }
    }

    fn index(us: u64) -> usize {
        if us < LINEAR {
            return us as usize;
        }
        let exp = (63 - us.leading_zeros()).min(MAX_EXP);
        let sub = (us >> (exp - SUB_BITS)) & (SUB - 1);
        let idx = LINEAR + u64::from(exp - 6) * SUB + sub;
        (idx as usize).min(BUCKETS - 1)
    }

    /// The smallest value a bucket holds.
    fn lower_bound(idx: usize) -> u64 {
        let idx = idx as u64;
        if idx < LINEAR {
            return idx;
        }
        let exp = (idx - LINEAR) / SUB + 6;
        let sub = (idx - LINEAR) % SUB;
        (1u64 << exp) + (sub << (exp - u64::from(SUB_BITS)))
    }

    /// Records one latency.
    pub fn record(&mut self, us: u64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[Self::index(us)] += 1;
        self.count += 1;
        self.max_us = self.max_us.max(us);
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.counts.is_empty() {
            return;
        }
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += *b;
        }
        self.count += other.count;
        self.max_us = self.max_us.max(other.max_us);
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1), in microseconds: the middle of the bucket
    /// holding it, never above the exact maximum.
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (idx, &c) in self.counts.iter().enumerate() {
            seen += u64::from(c);
            if seen >= rank {
                let lo = Self::lower_bound(idx);
                let hi = Self::lower_bound(idx + 1);
                return ((lo + hi) / 2).min(self.max_us);
            }
        }
        self.max_us
    }

    /// p50/p95/p99/max in milliseconds.
    pub fn percentiles(&self) -> Percentiles {
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            p50: ms(self.quantile_us(0.50)),
            p95: ms(self.quantile_us(0.95)),
            p99: ms(self.quantile_us(0.99)),
            max: ms(self.max_us),
            count: self.count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_three_percent() {
        let mut h = Histogram::new();
        for us in 1..=100_000u64 {
            h.record(us);
        }
        for (q, want) in [(0.5, 50_000.0), (0.95, 95_000.0), (0.99, 99_000.0)] {
            let got = h.quantile_us(q) as f64;
            assert!((got - want).abs() / want < 0.03, "q{q}: {got} vs {want}");
        }
        assert_eq!(h.percentiles().max, 100.0);
        assert_eq!(h.count(), 100_000);
    }

    #[test]
    fn merge_adds_counts_and_keeps_max() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(10);
        b.record(5_000_000);
        b.record(20);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile_us(1.0), 5_000_000);
        assert_eq!(a.quantile_us(0.1), 10);
    }

    #[test]
    fn huge_values_do_not_overflow_the_buckets() {
        let mut h = Histogram::new();
        h.record(u64::MAX / 2);
        assert_eq!(h.count(), 1);
        assert!(h.quantile_us(0.5) > 0);
    }

    #[test]
    fn bucket_bounds_are_monotonic() {
        for i in 0..BUCKETS - 1 {
            assert!(
                Histogram::lower_bound(i) < Histogram::lower_bound(i + 1),
                "{i}"
            );
            assert_eq!(Histogram::index(Histogram::lower_bound(i)), i);
        }
    }
}
