//! The summary a box shows: quartiles, Tukey's whiskers, outliers and the mean.

/// The summary of one group of values, as its box shows it.
///
/// Quartiles interpolate linearly between the sorted values (the method numpy, pandas and R's
/// default type 7 use), so a group of one value has all three at that value. The whiskers reach
/// the most extreme values within 1.5 interquartile ranges of the box (Tukey's rule); the values
/// beyond are outliers, drawn one by one.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    /// How many finite values the group holds.
    pub count: usize,
    /// The first quartile, the bottom of the box.
    pub q1: f64,
    /// The median, the line across the box.
    pub median: f64,
    /// The third quartile, the top of the box.
    pub q3: f64,
    /// The smallest value no further than 1.5 IQR below `q1`: the end of the lower whisker.
    pub whisker_low: f64,
    /// The largest value no further than 1.5 IQR above `q3`: the end of the upper whisker.
    pub whisker_high: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// The values beyond the whiskers, in ascending order.
    pub outliers: Vec<f64>,
}

impl BoxStats {
    /// The summary of the finite values among `values`; `None` when there are none.
    pub fn new(values: &[f64]) -> Option<Self> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.is_empty() {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let q1 = quantile(&sorted, 0.25);
        let median = quantile(&sorted, 0.5);
        let q3 = quantile(&sorted, 0.75);
        let reach = 1.5 * (q3 - q1);
        let (low_fence, high_fence) = (q1 - reach, q3 + reach);
        let inside = || {
            sorted
                .iter()
                .copied()
                .filter(|v| (low_fence..=high_fence).contains(v))
        };
        // The quartiles lie within the fences and between the extreme values, so `inside` is
        // never empty; the fallbacks only keep this free of panics.
        let whisker_low = inside().next().unwrap_or(q1);
        let whisker_high = inside().next_back().unwrap_or(q3);
        let outliers = sorted
            .iter()
            .copied()
            .filter(|v| !(low_fence..=high_fence).contains(v))
            .collect();
        // Dividing before summing keeps the mean finite for values near f64::MAX.
        let n = sorted.len() as f64;
        let mean = sorted.iter().map(|v| v / n).sum();
        Some(Self {
            count: sorted.len(),
            q1,
            median,
            q3,
            whisker_low,
            whisker_high,
            mean,
            outliers,
        })
    }

    /// The smallest and largest value drawn: the whisker ends and the outliers.
    pub(crate) fn extent(&self) -> (f64, f64) {
        let low = self
            .outliers
            .first()
            .map_or(self.whisker_low, |o| o.min(self.whisker_low));
        let high = self
            .outliers
            .last()
            .map_or(self.whisker_high, |o| o.max(self.whisker_high));
        (low, high)
    }
}

/// The `p` quantile of `sorted` (ascending, not empty), interpolated linearly.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let below = h.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let (a, b) = (sorted[below], sorted[above]);
    // `a + (b - a) * t` overflows for values of opposite sign near f64::MAX.
    a * (1.0 - (h - below as f64)) + b * (h - below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_match_numpy() {
        // numpy.percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], [25, 50, 75]) = 3.25, 5.5, 7.75
        let s = BoxStats::new(&[7.0, 1.0, 2.0, 100.0, 3.0, 4.0, 5.0, 6.0, 8.0, 9.0]).unwrap();
        assert_eq!((s.q1, s.median, s.q3), (3.25, 5.5, 7.75));
        // IQR 4.5: the fences are -3.5 and 14.5.
        assert_eq!((s.whisker_low, s.whisker_high), (1.0, 9.0));
        assert_eq!(s.outliers, vec![100.0]);
        assert_eq!(s.count, 10);
        assert!((s.mean - 14.5).abs() < 1e-12, "{}", s.mean);
        assert_eq!(s.extent(), (1.0, 100.0));
    }

    #[test]
    fn outliers_on_both_sides() {
        let mut values = vec![-50.0, 80.0];
        values.extend((0..20).map(|i| 10.0 + f64::from(i) * 0.5));
        let s = BoxStats::new(&values).unwrap();
        assert_eq!(s.outliers, vec![-50.0, 80.0]);
        assert_eq!((s.whisker_low, s.whisker_high), (10.0, 19.5));
        assert_eq!(s.extent(), (-50.0, 80.0));
    }

    #[test]
    fn single_values_and_non_finite_values() {
        let s = BoxStats::new(&[f64::NAN, 4.0, f64::INFINITY]).unwrap();
        assert_eq!(s.count, 1);
        assert_eq!((s.q1, s.median, s.q3, s.mean), (4.0, 4.0, 4.0, 4.0));
        assert_eq!((s.whisker_low, s.whisker_high), (4.0, 4.0));
        assert!(s.outliers.is_empty());
        assert_eq!(BoxStats::new(&[]), None);
        assert_eq!(BoxStats::new(&[f64::NAN, f64::NEG_INFINITY]), None);
        let two = BoxStats::new(&[1.0, 2.0]).unwrap();
        assert_eq!((two.q1, two.median, two.q3), (1.25, 1.5, 1.75));
    }

    #[test]
    fn extreme_values_stay_finite() {
        let s = BoxStats::new(&[f64::MAX, f64::MAX, -f64::MAX]).unwrap();
        assert!(s.q1.is_finite() && s.mean.is_finite(), "{s:?}");
        assert_eq!(s.median, f64::MAX);
    }
}
