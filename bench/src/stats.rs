//! Latency statistics: an HDR histogram of microseconds, merged across workers, summarized as p50/p90/p99/max.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency recorded exactly; anything slower is clamped to it (and still counted).
const MAX_MICROS: u64 = 120_000_000;

/// Latencies of one phase, in microseconds, with 3 significant digits.
#[derive(Debug, Clone)]
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Latencies {
    #[expect(
        clippy::expect_used,
        reason = "constant bounds (1 µs ..= 120 s, 3 significant figures) that hdrhistogram always accepts"
    )]
    pub fn new() -> Latencies {
        let histogram = Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds");
        Latencies { histogram }
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(MAX_MICROS);
        self.record_micros(micros);
    }

    pub fn record_micros(&mut self, micros: u64) {
        let _ = self.histogram.record(micros.clamp(1, MAX_MICROS));
    }

    /// Adds another worker's latencies.
    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.histogram.add(&other.histogram);
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if self.histogram.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.histogram.len(),
            mean_ms: round3(self.histogram.mean() / 1000.0),
            p50_ms: ms(self.histogram.value_at_quantile(0.50)),
            p90_ms: ms(self.histogram.value_at_quantile(0.90)),
            p99_ms: ms(self.histogram.value_at_quantile(0.99)),
            max_ms: ms(self.histogram.max()),
        }
    }
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// A phase's latency percentiles, in milliseconds (microsecond resolution, 3 significant digits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Requests per second, rounded to one decimal.
pub fn throughput(requests: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    (requests as f64 / secs * 10.0).round() / 10.0
}

/// `value / baseline`, rounded to three decimals; `None` without a baseline.
pub fn ratio(value: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| round3(value / baseline))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_thousand_microseconds() {
        let mut latencies = Latencies::new();
        for micros in 1..=1000 {
            latencies.record(Duration::from_micros(micros));
        }
        let summary = latencies.summary();
        assert_eq!(
            summary,
            LatencySummary {
                count: 1000,
                mean_ms: 0.5,
                p50_ms: 0.5,
                p90_ms: 0.9,
                p99_ms: 0.99,
                max_ms: 1.0,
            }
        );
    }

    #[test]
    fn merging_workers_equals_recording_in_one() {
        let mut a = Latencies::new();
        let mut b = Latencies::new();
        for micros in 1..=500 {
            a.record_micros(micros);
        }
        for micros in 501..=1000 {
            b.record_micros(micros);
        }
        a.merge(&b);
        assert_eq!(a.summary().count, 1000);
        assert_eq!(a.summary().p50_ms, 0.5);
        assert_eq!(a.summary().p99_ms, 0.99);
    }

    #[test]
    fn skewed_tail_and_clamping() {
        let mut latencies = Latencies::new();
        for _ in 0..99 {
            latencies.record_micros(200);
        }
        latencies.record(Duration::from_secs(1000));
        let summary = latencies.summary();
        assert_eq!(summary.p50_ms, 0.2);
        assert_eq!(summary.p99_ms, 0.2);
        // Clamped to 120 s; 3 significant digits means the histogram reports the bucket's upper bound.
        assert!(
            (120_000.0..120_100.0).contains(&summary.max_ms),
            "{}",
            summary.max_ms
        );
        assert_eq!(Latencies::new().summary(), LatencySummary::default());
    }

    #[test]
    fn throughput_and_ratio() {
        assert_eq!(throughput(1000, Duration::from_millis(500)), 2000.0);
        assert_eq!(throughput(1, Duration::ZERO), 0.0);
        assert_eq!(ratio(400.0, 1000.0), Some(0.4));
        assert_eq!(ratio(2.0, 3.0), Some(0.667));
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
