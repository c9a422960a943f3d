//! [`LinearSvr`]: linear epsilon-insensitive support vector regression,
//! scikit-learn's `LinearSVR` (`loss="epsilon_insensitive"`), solved as
//! liblinear's `solve_l2r_l1l2_svr` does for the L1 loss.
//!
//! The primal is `1/2 ||w||² + C Σ max(0, |y_i - w . x_i| - epsilon)`.
//! Dual coordinate descent keeps one dual variable `β_i ∈ [-C, C]` per row
//! and `w = Σ β_i x_i`; each epoch visits the active rows in a fresh random
//! permutation, takes the one-variable Newton step clipped to the box, and
//! shrinks away rows whose variable sits at a bound with a gradient that
//! keeps it there (by the previous epoch's largest violation). It stops when
//! the sum of violations falls below `tol` times that of the first epoch,
//! after a last pass over all rows with shrinking undone, or after
//! `max_iter` epochs.
//!
//! The intercept is liblinear's: a constant feature `intercept_scaling`
//! appended to every row (here kept as a scalar beside the rows rather than
//! stored in them), its weight regularised like the others, and the
//! intercept is `intercept_scaling` times that weight.
//!
//! Speed: an epoch is one dot product and one axpy per active row, and on
//! hard problems shrinking removes almost nothing (at the stacking seed's
//! 20,000 x 1,024 with 0/1 targets the largest violation stays near 2 for
//! all 1,000 epochs, and 19,998 rows are still active at the end), so each
//! epoch streams the whole matrix from memory in random row order. The
//! solver therefore reads the dataset's `f32` rows in place (half the bytes
//! of `f64` copies; `w` and all sums stay `f64`), prefetches rows a few
//! steps ahead (the order is known, the hardware cannot guess it) and uses
//! AVX2 kernels where the CPU has them, with the portable ones giving
//! bit-identical results elsewhere.
//!
//! The permutation comes from a seeded xoshiro256++ (liblinear uses C's
//! `rand()`), so the path differs from scikit-learn's, not the optimum.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{
    LinearFunction, check_at_least_one, check_non_negative, check_not_empty, check_positive,
};
use crate::persist::Persist;
use crate::{Dataset, Fit, Result};

/// Unchecked linear SVR hyperparameters; see [`LinearSvr::params`] for the
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct LinearSvrParams {
    /// Weight of the loss against the L2 penalty; finite, above 0.
    #[serde(rename = "C", alias = "c")]
    pub c: f64,
    /// Half-width of the insensitive tube; finite, at least 0.
    pub epsilon: f64,
    /// Relative stopping tolerance on the summed dual violations; above 0.
    pub tol: f64,
    /// Maximum number of epochs; at least 1.
    pub max_iter: usize,
    /// Whether to fit an intercept (as a regularised constant feature).
    pub fit_intercept: bool,
    /// Value of that constant feature; finite, above 0.
    pub intercept_scaling: f64,
    /// Seed of the permutations.
    pub seed: u64,
}

impl Default for LinearSvrParams {
    fn default() -> Self {
        Self {
            c: 1.0,
            epsilon: 0.0,
            tol: 1e-6,
            max_iter: 1000,
            fit_intercept: true,
            intercept_scaling: 1.0,
            seed: 0,
        }
    }
}

impl LinearSvrParams {
    /// Weight of the loss (finite, > 0).
    pub fn c(mut self, v: f64) -> Self {
        self.c = v;
        self
    }
    /// Half-width of the insensitive tube (finite, >= 0).
    pub fn epsilon(mut self, v: f64) -> Self {
        self.epsilon = v;
        self
    }
    /// Relative stopping tolerance (> 0).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Maximum number of epochs (>= 1).
    pub fn max_iter(mut self, v: usize) -> Self {
        self.max_iter = v;
        self
    }
    /// Whether to fit an intercept.
    pub fn fit_intercept(mut self, v: bool) -> Self {
        self.fit_intercept = v;
        self
    }
    /// Value of the constant intercept feature (finite, > 0).
    pub fn intercept_scaling(mut self, v: f64) -> Self {
        self.intercept_scaling = v;
        self
    }
    /// Seed of the permutations.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<LinearSvrValidParams> {
        check_positive("C", self.c)?;
        check_non_negative("epsilon", self.epsilon)?;
        check_positive("tol", self.tol)?;
        check_at_least_one("max_iter", self.max_iter)?;
        check_positive("intercept_scaling", self.intercept_scaling)?;
        Ok(LinearSvrValidParams(self))
    }
}

/// Validated linear SVR hyperparameters; fits through [`crate::Fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvrValidParams(LinearSvrParams);

/// A fitted linear SVR: `y ≈ x . coef + intercept`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearSvr(LinearFunction);

impl LinearSvr {
    /// Default (unchecked) parameters: C 1.0, epsilon 0.0, tol 1e-6 (the
    /// stacking seed's setting; scikit-learn's default is 1e-4), max_iter
    /// 1000, intercept fitted with intercept_scaling 1, seed 0.
    pub fn params() -> LinearSvrParams {
        LinearSvrParams::default()
    }
}

impl Fit for LinearSvrValidParams {
    type Model = LinearSvr;

    fn fit(&self, data: &Dataset) -> Result<LinearSvr> {
        let p = &self.0;
        check_not_empty(data, LinearSvr::KIND)?;
        let y = super::real_targets(data, LinearSvr::KIND)?;
        let x = data.view();
        let rows = Rows {
            x: x.data(),
            d: x.cols(),
            bias: if p.fit_intercept {
                p.intercept_scaling
            } else {
                0.0
            },
        };
        let (w, bias_weight, n_iter) = solve(&rows, &y, p);
        let intercept = bias_weight * rows.bias;
        Ok(LinearSvr(LinearFunction::new(&w, intercept, n_iter)?))
    }
}

/// The rows the solver visits: the dataset's own `f32` records (`n x d`,
/// row-major, not copied) and the constant intercept feature `bias`
/// (0 without an intercept), which is kept out of the rows and handled as a
/// scalar so that a row stays exactly `d` floats.
///
/// Each epoch streams the whole matrix from memory in a random row order
/// (20,000 x 1,024 is 82 MB, far above the caches), so the epoch is bound
/// by the bytes it reads: the rows stay `f32` (the records are `f32`
/// anyway, so nothing is lost) while `w` and every sum are `f64`.
struct Rows<'a> {
    x: &'a [f32],
    d: usize,
    bias: f64,
}

impl Rows<'_> {
    #[inline(always)]
    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.d..(i + 1) * self.d]
    }
}

/// Floats per step of the kernels: one 64-byte cache line of a row.
const LINE: usize = 16;

/// How many rows ahead of the current one the kernels prefetch, into L2:
/// the dot product prefetches the row `PREFETCH_AHEAD` steps ahead and the
/// axpy the one after it, so prefetches keep flowing through both halves of
/// a step. Measured at 20,000 x 1,024 on a 2-core EPYC, an epoch took
/// 16-20 ms without prefetching, 12-13 ms with the dot alone prefetching
/// one row ahead into L1, 8.3-8.5 ms with it prefetching 4 rows ahead into
/// L2, and 5.7-6.2 ms with the axpy prefetching too (2 to 4 rows ahead
/// alike; 1 and 6 or more a little slower).
const PREFETCH_AHEAD: usize = 4;

/// The two row kernels of the solver. Every implementation does the same
/// `f64` operations in the same order (`LINE` independent partial sums,
/// reduced pairwise, then the tail; no FMA), so the fit is bit-identical
/// whichever one runs.
trait Kernels: Copy {
    /// `w . x`, prefetching `next`, a row visited a few steps later: the
    /// row order is random, so the hardware prefetcher cannot guess it and
    /// each new row would otherwise start with a full memory latency.
    fn dot_prefetch(self, w: &[f64], x: &[f32], next: &[f32]) -> f64;
    /// `w += a * x`, `x` widened to `f64`.
    /// `w += a * x`, `x` widened to `f64`, prefetching `next` likewise.
    fn axpy_prefetch(self, a: f64, x: &[f32], w: &mut [f64], next: &[f32]);
}

/// Plain Rust kernels, for any target.
#[derive(Clone, Copy)]
struct Portable;

impl Kernels for Portable {
    #[inline(always)]
    fn dot_prefetch(self, w: &[f64], x: &[f32], next: &[f32]) -> f64 {
        let mut acc = [0f64; LINE];
        let (cw, cx) = (w.chunks_exact(LINE), x.chunks_exact(LINE));
        let (rw, rx) = (cw.remainder(), cx.remainder());
        for (j, (a, b)) in cw.zip(cx).enumerate() {
            prefetch(next, j * LINE);
            for k in 0..LINE {
                acc[k] += a[k] * f64::from(b[k]);
            }
        }
        let mut width = LINE;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[k] += acc[k + width];
            }
        }
        acc[0] + dot_tail(rw, rx)
    }

    #[inline(always)]
    fn axpy_prefetch(self, a: f64, x: &[f32], w: &mut [f64], next: &[f32]) {
        let mut cw = w.chunks_exact_mut(LINE);
        let cx = x.chunks_exact(LINE);
        let rx = cx.remainder();
        for (j, (wl, xl)) in (&mut cw).zip(cx).enumerate() {
            prefetch(next, j * LINE);
            for k in 0..LINE {
                wl[k] += a * f64::from(xl[k]);
            }
        }
        axpy_tail(a, rx, cw.into_remainder());
    }
}

/// `w += a * x` element by element, for the `d % LINE` last terms.
#[inline(always)]
fn axpy_tail(a: f64, x: &[f32], w: &mut [f64]) {
    for (wi, &xi) in w.iter_mut().zip(x) {
        *wi += a * f64::from(xi);
    }
}

/// The `d % LINE` last terms of a dot product, in order.
#[inline(always)]
fn dot_tail(w: &[f64], x: &[f32]) -> f64 {
    w.iter().zip(x).fold(0.0, |s, (a, &b)| s + a * f64::from(b))
}

/// Asks for the cache line holding `row[at]`, if `row` has one (a hint; no
/// effect on results).
#[inline(always)]
fn prefetch(row: &[f32], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(v) = row.get(at) {
        use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never
        // faults nor changes memory.
        unsafe { _mm_prefetch::<_MM_HINT_T1>(std::ptr::from_ref(v).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (row, at);
}

/// AVX2 kernels; the value exists only where the CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    fn detect() -> Option<Self> {
        is_x86_feature_detected!("avx2").then_some(Self(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2 {
    fn dot_prefetch(self, w: &[f64], x: &[f32], next: &[f32]) -> f64 {
        // SAFETY: an `Avx2` exists only where the CPU has AVX2.
        unsafe { avx2::dot_prefetch(w, x, next) }
    }

    fn axpy_prefetch(self, a: f64, x: &[f32], w: &mut [f64], next: &[f32]) {
        // SAFETY: as above.
        unsafe { avx2::axpy_prefetch(a, x, w, next) }
    }
}

/// The AVX2 bodies of [`Kernels`]: LLVM vectorises the portable loops
/// into 128-bit halves only, so these spell the 256-bit steps out. The
/// `LINE` partial sums are four registers of four lanes, `acc[4 r + l]` in
/// lane `l` of register `r`, reduced in the portable order.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{LINE, axpy_tail, dot_tail, prefetch};

    #[target_feature(enable = "avx2")]
    pub(super) fn dot_prefetch(w: &[f64], x: &[f32], next: &[f32]) -> f64 {
        let mut acc = [_mm256_setzero_pd(); 4];
        let (cw, cx) = (w.chunks_exact(LINE), x.chunks_exact(LINE));
        let (rw, rx) = (cw.remainder(), cx.remainder());
        for (j, (a, b)) in cw.zip(cx).enumerate() {
            prefetch(next, j * LINE);
            for (r, acc) in acc.iter_mut().enumerate() {
                // SAFETY: `a` holds LINE f64 and `b` LINE f32, so both
                // 4-lane reads at offset 4 r are in bounds.
                let (wv, xv) = unsafe {
                    (
                        _mm256_loadu_pd(a.as_ptr().add(4 * r)),
                        _mm256_cvtps_pd(_mm_loadu_ps(b.as_ptr().add(4 * r))),
                    )
                };
                *acc = _mm256_add_pd(*acc, _mm256_mul_pd(wv, xv));
            }
        }
        let s = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
        let s = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd::<1>(s));
        let s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
        _mm_cvtsd_f64(s) + dot_tail(rw, rx)
    }

    #[target_feature(enable = "avx2")]
    pub(super) fn axpy_prefetch(a: f64, x: &[f32], w: &mut [f64], next: &[f32]) {
        let av = _mm256_set1_pd(a);
        let mut cw = w.chunks_exact_mut(LINE);
        let cx = x.chunks_exact(LINE);
        let rx = cx.remainder();
        for (j, (wl, xl)) in (&mut cw).zip(cx).enumerate() {
            prefetch(next, j * LINE);
            for r in 0..LINE / 4 {
                // SAFETY: `wl` holds LINE f64 and `xl` LINE f32, so the
                // 4-lane accesses at offset 4 r are in bounds.
                unsafe {
                    let xv = _mm256_cvtps_pd(_mm_loadu_ps(xl.as_ptr().add(4 * r)));
                    let wp = wl.as_mut_ptr().add(4 * r);
                    _mm256_storeu_pd(
                        wp,
                        _mm256_add_pd(_mm256_loadu_pd(wp), _mm256_mul_pd(av, xv)),
                    );
                }
            }
        }
        axpy_tail(a, rx, cw.into_remainder());
    }
}

/// liblinear's `solve_l2r_l1l2_svr` for the L1 loss; returns `w` (one
/// weight per feature), the weight of the intercept feature and the epochs
/// run.
fn solve(rows: &Rows<'_>, y: &[f64], p: &LinearSvrParams) -> (Vec<f64>, f64, usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(k) = Avx2::detect() {
        return solve_with(k, rows, y, p);
    }
    solve_with(Portable, rows, y, p)
}

fn solve_with<K: Kernels>(
    k: K,
    rows: &Rows<'_>,
    y: &[f64],
    p: &LinearSvrParams,
) -> (Vec<f64>, f64, usize) {
    let n = y.len();
    let (c, eps) = (p.c, p.epsilon);
    let bias = rows.bias;
    let qd: Vec<f64> = (0..n)
        .map(|i| {
            let r = rows.row(i);
            let mut acc = [0f64; LINE];
            for (k, &v) in r.iter().enumerate() {
                acc[k % LINE] += f64::from(v) * f64::from(v);
            }
            acc.iter().sum::<f64>() + bias * bias
        })
        .collect();
    let mut beta = vec![0f64; n];
    let mut w = vec![0f64; rows.d];
    let mut wb = 0f64;
    let mut index: Vec<usize> = (0..n).collect();
    let mut active = n;
    let mut gmax_old = f64::INFINITY;
    let mut gnorm1_init = -1.0;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(p.seed);
    let mut iter = 0;
    while iter < p.max_iter {
        let mut gmax_new = 0f64;
        let mut gnorm1_new = 0f64;
        for i in 0..active {
            let j = i + (rng.next_u64() % (active - i) as u64) as usize;
            index.swap(i, j);
        }
        let mut s = 0;
        while s < active {
            let i = index[s];
            let next = rows.row(index[(s + PREFETCH_AHEAD).min(active - 1)]);
            let after = rows.row(index[(s + PREFETCH_AHEAD + 1).min(active - 1)]);
            let g = k.dot_prefetch(&w, rows.row(i), next) + wb * bias - y[i];
            let h = qd[i];
            let (gp, gn) = (g + eps, g - eps);
            let b = beta[i];
            let shrink = if b == 0.0 {
                gp >= 0.0 && gn <= 0.0 && gp > gmax_old && gn < -gmax_old
            } else if b >= c {
                gp <= 0.0 && gp < -gmax_old
            } else if b <= -c {
                gn >= 0.0 && gn > gmax_old
            } else {
                false
            };
            if shrink {
                active -= 1;
                index.swap(s, active);
                continue;
            }
            let violation = if b == 0.0 {
                if gp < 0.0 {
                    -gp
                } else if gn > 0.0 {
                    gn
                } else {
                    0.0
                }
            } else if b >= c {
                gp.max(0.0)
            } else if b <= -c {
                (-gn).max(0.0)
            } else if b > 0.0 {
                gp.abs()
            } else {
                gn.abs()
            };
            gmax_new = gmax_new.max(violation);
            gnorm1_new += violation;
            s += 1;
            // The Newton direction of the one-variable problem.
            let step = if gp < h * b {
                -gp / h
            } else if gn > h * b {
                -gn / h
            } else {
                -b
            };
            if step.abs() < 1e-12 {
                continue;
            }
            let new = (b + step).clamp(-c, c);
            beta[i] = new;
            let delta = new - b;
            if delta != 0.0 {
                k.axpy_prefetch(delta, rows.row(i), &mut w, after);
                wb += delta * bias;
            }
        }
        if iter == 0 {
            gnorm1_init = gnorm1_new;
        }
        iter += 1;
        if gnorm1_new <= p.tol * gnorm1_init {
            if active == n {
                break;
            }
            active = n;
            gmax_old = f64::INFINITY;
            continue;
        }
        gmax_old = gmax_new;
    }
    (w, wb, iter)
}

linear_function_model!(regressor LinearSvr, "linear-svr", "Epochs the dual coordinate descent ran (`max_iter` if it did not reach the tolerance).");

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `d` values in roughly [-2, 2), deterministic.
    fn values(n: usize, salt: u64) -> Vec<f32> {
        (0..n as u64)
            .map(|i| {
                let h = (i ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
                (h as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn kernels_agree_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx) = Avx2::detect() {
            for d in [1, 15, 16, 37, 1024, 1029] {
                let x = values(d, 1);
                let next = values(d, 2);
                let w: Vec<f64> = values(d, 3).iter().map(|&v| f64::from(v) / 3.0).collect();
                assert_eq!(
                    Portable.dot_prefetch(&w, &x, &next).to_bits(),
                    avx.dot_prefetch(&w, &x, &next).to_bits(),
                    "dot, d {d}"
                );
                let (mut a, mut b) = (w.clone(), w.clone());
                Portable.axpy_prefetch(-0.7, &x, &mut a, &next);
                avx.axpy_prefetch(-0.7, &x, &mut b, &next);
                assert_eq!(a, b, "axpy, d {d}");
            }
        }
    }

    #[test]
    fn the_dot_product_is_right_and_ignores_the_prefetched_row() {
        let x = values(37, 1);
        let w: Vec<f64> = values(37, 3).iter().map(|&v| f64::from(v)).collect();
        let want: f64 = w.iter().zip(&x).map(|(a, &b)| a * f64::from(b)).sum();
        for next in [&x[..], &[][..], &x[..5]] {
            let got = Portable.dot_prefetch(&w, &x, next);
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }
}
