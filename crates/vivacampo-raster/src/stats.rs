//! Zonal statistics, computed as numpy does (`nanmean`, `nanstd`, `nanpercentile` with linear
//! interpolation, `histogram`).

use serde::Serialize;

/// Statistics of the valid values in a zone. Values are `None` when nothing is valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Pixels in the zone.
    pub count: usize,
    /// Of those, pixels with a finite, unmasked value.
    pub valid_count: usize,
    /// `valid_count / count` (0 for an empty zone).
    pub valid_ratio: f64,
    pub mean: Option<f64>,
    /// Population standard deviation (ddof = 0).
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p10: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

/// Statistics of `values` where `zone` is true (everywhere without a zone). NaN and ±inf are
/// "no data" and only count towards `count`.
pub fn zonal(values: &[f64], zone: Option<&[bool]>) -> Stats {
    let mut valid: Vec<f64> = Vec::with_capacity(values.len());
    let mut count = 0;
    for (i, &v) in values.iter().enumerate() {
        if zone.is_none_or(|z| z.get(i).copied().unwrap_or(false)) {
            count += 1;
            if v.is_finite() {
                valid.push(v);
            }
        }
    }
    let n = valid.len();
    let valid_ratio = if count == 0 {
        0.0
    } else {
        n as f64 / count as f64
    };
    if n == 0 {
        return Stats {
            count,
            valid_count: 0,
            valid_ratio,
            mean: None,
            std: None,
            min: None,
            max: None,
            p10: None,
            p50: None,
            p90: None,
        };
    }
    let mean = neumaier(valid.iter().copied()) / n as f64;
    let var = neumaier(valid.iter().map(|v| (v - mean) * (v - mean))) / n as f64;
    let min = valid.iter().copied().fold(f64::INFINITY, f64::min);
    let max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let [p10, p50, p90] = percentiles(&mut valid, [10.0, 50.0, 90.0]);
    Stats {
        count,
        valid_count: n,
        valid_ratio,
        mean: Some(mean),
        std: Some(var.sqrt()),
        min: Some(min),
        max: Some(max),
        p10: Some(p10),
        p50: Some(p50),
        p90: Some(p90),
    }
}

/// Compensated sum: keeps the mean of 10⁵ values exact to ~1e-15.
fn neumaier(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut c) = (0.0f64, 0.0f64);
    for v in values {
        let t = sum + v;
        c += if sum.abs() >= v.abs() {
            (sum - t) + v
        } else {
            (v - t) + sum
        };
        sum = t;
    }
    sum + c
}

/// numpy's default (linear) percentiles of finite values, by selection rather than a full sort.
/// Reorders `values`.
pub fn percentiles<const N: usize>(values: &mut [f64], ps: [f64; N]) -> [f64; N] {
    let n = values.len();
    let mut out = [f64::NAN; N];
    if n == 0 {
        return out;
    }
    for (o, p) in out.iter_mut().zip(ps) {
        let pos = p / 100.0 * (n - 1) as f64;
        let lo = pos.floor() as usize;
        let t = pos - lo as f64;
        let (_, &mut a, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
        let b = if t > 0.0 {
            rest.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            a
        };
        // numpy's _lerp: from the nearer end, for symmetry.
        *o = if t >= 0.5 {
            b - (b - a) * (1.0 - t)
        } else {
            a + (b - a) * t
        };
    }
    out
}

/// A histogram with equal-width bins over `[lo, hi]`, the last bin closed (numpy.histogram).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
}

/// Histogram of finite values in the zone; values outside `[lo, hi]` are not counted.
pub fn histogram(
    values: &[f64],
    zone: Option<&[bool]>,
    bins: usize,
    lo: f64,
    hi: f64,
) -> Histogram {
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let edges = (0..=bins)
        .map(|i| lo + width * i as f64)
        .collect::<Vec<_>>();
    let mut counts = vec![0u64; bins];
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite()
            || v < lo
            || v > hi
            || !zone.is_none_or(|z| z.get(i).copied().unwrap_or(false))
        {
            continue;
        }
        let mut b = (((v - lo) / width) as usize).min(bins - 1);
        // Floating error near an edge: trust the edges, as numpy does.
        if v < edges[b] {
            b -= 1;
        } else if b + 1 < bins && v >= edges[b + 1] {
            b += 1;
        }
        counts[b] += 1;
    }
    Histogram { edges, counts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numpy_percentiles_small() {
        let mut v = vec![1.0, 2.0, 3.0, 4.0];
        // np.percentile([1,2,3,4],[10,50,90]) = [1.3, 2.5, 3.7]
        let p = percentiles(&mut v, [10.0, 50.0, 90.0]);
        assert!(
            (p[0] - 1.3).abs() < 1e-12 && (p[1] - 2.5).abs() < 1e-12 && (p[2] - 3.7).abs() < 1e-12
        );
    }

    #[test]
    fn histogram_like_numpy() {
        // np.histogram([0, 0.5, 1, 1, 2], bins=2, range=(0, 2)) -> [2, 3]
        let h = histogram(&[0.0, 0.5, 1.0, 1.0, 2.0, f64::NAN], None, 2, 0.0, 2.0);
        assert_eq!(h.counts, vec![2, 3]);
        assert_eq!(h.edges, vec![0.0, 1.0, 2.0]);
    }

    #[test]
    fn empty_zone() {
        let s = zonal(&[f64::NAN, 1.0], Some(&[true, false]));
        assert_eq!((s.count, s.valid_count, s.mean), (1, 0, None));
    }
}
