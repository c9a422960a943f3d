//! Value axis ranges: padded around the data, and kept within [0, 1] when the data is.

use std::ops::Range;

/// A range covering `[min, max]` padded by 5% of its span (at least 0.001 either side), not
/// reaching below 0 when the data does not and not above 1 when the data does not, so that
/// accuracies and other fractions keep their natural bounds. Non-finite bounds (no data) give
/// `0..1`.
pub(crate) fn padded(min: f64, max: f64) -> Range<f64> {
    let (min, max) = if min.is_finite() && max.is_finite() && min <= max {
        (min, max)
    } else {
        (0.0, 1.0)
    };
    let pad = (max - min).max(0.02) * 0.05;
    let mut lo = min - pad;
    let mut hi = max + pad;
    if min >= 0.0 {
        lo = lo.max(0.0);
    }
    if max <= 1.0 {
        hi = hi.min(1.0);
    }
    // Large values with a zero span: the pad above vanishes in their rounding.
    if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()) * 4.0 {
        let pad = (hi.abs() * 0.05).max(1e-9);
        (lo - pad)..(hi + pad)
    } else {
        lo..hi
    }
}

/// A range covering `[min, max]` (both positive) padded by 5% of its span in log space, and by
/// at least a factor of 1.1 either side. Non-finite or non-positive bounds (no data) give
/// `1..10`.
pub(crate) fn padded_log(min: f64, max: f64) -> Range<f64> {
    if !(min.is_finite() && max.is_finite() && min > 0.0 && min <= max) {
        return 1.0..10.0;
    }
    let span = max.ln() - min.ln();
    let pad = (span * 0.05).max(1.1f64.ln());
    (min.ln() - pad).exp()..(max.ln() + pad).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_stay_within_zero_and_one() {
        let r = padded(0.5, 0.99);
        assert!(r.start < 0.5 && r.start > 0.4, "{r:?}");
        assert_eq!(r.end, 1.0);
        let r = padded(0.0, 0.2);
        assert_eq!(r.start, 0.0);
        assert!(r.end > 0.2, "{r:?}");
    }

    #[test]
    fn other_data_is_padded_both_ways() {
        let r = padded(-10.0, 30.0);
        assert_eq!(r, -12.0..32.0);
        let r = padded(100.0, 200.0);
        assert_eq!(r, 95.0..205.0);
    }

    #[test]
    fn degenerate_bounds_still_give_a_range() {
        for r in [
            padded(f64::INFINITY, f64::NEG_INFINITY),
            padded(f64::NAN, 1.0),
            padded(5.0, 5.0),
            padded(1e300, 1e300),
            padded(-3.0, -3.0),
        ] {
            assert!(r.start < r.end, "{r:?}");
            assert!(r.start.is_finite() && r.end.is_finite(), "{r:?}");
        }
        assert_eq!(padded(f64::NAN, f64::NAN), 0.0..1.0);
    }

    #[test]
    fn log_ranges_pad_by_a_factor() {
        let r = padded_log(10.0, 1000.0);
        assert!(r.start < 10.0 && r.start > 5.0, "{r:?}");
        assert!(r.end > 1000.0 && r.end < 2000.0, "{r:?}");
        let r = padded_log(3.0, 3.0);
        assert!(r.start < 3.0 && r.end > 3.0, "{r:?}");
        assert_eq!(padded_log(0.0, 1.0), 1.0..10.0);
        assert_eq!(padded_log(f64::INFINITY, f64::NEG_INFINITY), 1.0..10.0);
    }
}
