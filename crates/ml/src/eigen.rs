//! Symmetric eigensolvers for PCA: faer's full decomposition, and an exact
//! top-k block Krylov solver for when few components are wanted.
//!
//! # Why a top-k solver
//!
//! PCA needs only the `k` largest eigenpairs of the `d x d` covariance `C`,
//! but a full self-adjoint eigendecomposition costs `O(d³)` whatever `k` is
//! (about 0.09 s for d = 784), mostly in the Householder tridiagonalisation,
//! which is bandwidth-bound and runs on one core. A Krylov method only
//! touches `C` through products `C·V`; done a block of `b` vectors at a
//! time they are cache-friendly GEMMs (`2 d² b` flops, split over the rayon
//! pool), so reaching a subspace of dimension `m` costs `2 d² m` flops plus
//! `O(d m²)` for orthogonalisation — a few milliseconds for `k = 10`.
//!
//! # Algorithm (block Lanczos with full reorthogonalisation + Rayleigh–Ritz)
//!
//! 1. The first block of `b` vectors is pseudo-random from a fixed seed
//!    (never thread- or time-dependent) and orthonormalised.
//! 2. Each step multiplies the newest block by `C` (kept, as `AV = C·V`) and
//!    the next block is that product orthonormalised against *all* previous
//!    basis vectors with two passes of block classical Gram–Schmidt (plus
//!    modified Gram–Schmidt inside the block), which keeps the basis
//!    orthonormal to machine precision — no ghost eigenvalues. A column
//!    that vanishes (the Krylov space became invariant, e.g. low-rank data)
//!    is replaced by a fresh pseudo-random vector, which is always valid for
//!    Rayleigh–Ritz.
//! 3. The projected matrix `H = Vᵀ C V` is kept up to date incrementally
//!    from `AV` (no reliance on the three-term recurrence) and, on a
//!    geometric schedule, its eigenpairs `(θ, s)` are computed with faer.
//!    The Ritz pairs `(θ, V s)` are accepted only when **every** kept pair
//!    has an explicit residual `‖C V s − θ V s‖ = ‖AV s − θ V s‖ ≤ 1e-9·‖C‖₂`
//!    (with `‖C‖₂` estimated by the largest Ritz value; `C` is PSD).
//!    The eigenvector error is at most residual / gap, the eigenvalue error
//!    at most residual² / gap, so for real data both are far below 1e-6.
//! 4. If the subspace reaches its size bound first (or, past half of it,
//!    the observed residual decay predicts it would), the full
//!    decomposition is used instead, so the result is always exact.
//!
//! A block (rather than single-vector) Krylov space also finds eigenvalues
//! of multiplicity up to `b`, which a single-vector Lanczos run cannot: its
//! Krylov space holds only one direction of a repeated eigenspace, and the
//! residual test alone would not notice the missing copy.
//!
//! All products use fixed row splits (independent of the number of threads)
//! and `Par::Seq` kernels, so the result is bit-identical for any pool size.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use crate::pca::EigenSolver;
use crate::{MlError, Result};

/// Relative residual bound `‖C v − θ v‖ ≤ KRYLOV_TOL · ‖C‖₂` for every kept pair.
pub(crate) const KRYLOV_TOL: f64 = 1e-9;

/// A column that keeps less than this fraction of its norm after
/// orthogonalisation is treated as lying in the current subspace.
const BREAKDOWN: f64 = 1e-10;

/// The top `k` eigenpairs of a symmetric matrix, eigenvalues descending.
#[derive(Debug, Clone)]
pub(crate) struct Eigenpairs {
    /// `k` eigenvalues, largest first.
    pub(crate) values: Vec<f64>,
    /// `k` unit eigenvectors of length `d`, vector `c` at `c*d..(c+1)*d`.
    pub(crate) vectors: Vec<f64>,
}

/// Top `k` eigenpairs of the `d x d` covariance whose rows and columns
/// outside `active` are zero and whose `active` block has lower triangle `cov`.
pub(crate) fn top_eigenpairs(
    cov: MatRef<'_, f64>,
    active: &[usize],
    d: usize,
    k: usize,
    solver: EigenSolver,
) -> Result<Eigenpairs> {
    let da = active.len();
    let krylov = match solver {
        EigenSolver::Full => false,
        EigenSolver::Krylov => true,
        EigenSolver::Auto => d >= 64 && 4 * k <= d,
    };
    if krylov
        && k < da
        && let Some(p) = krylov_top_k(cov, k)
    {
        return Ok(if da == d { p } else { expand(p, active, d) });
    }
    if da == d {
        return full_top_k(cov, k);
    }
    // Full decomposition of the whole d x d matrix, zeros included, so the
    // null space is handled exactly as for any other matrix.
    let mut pos = vec![usize::MAX; d];
    for (a, &j) in active.iter().enumerate() {
        pos[j] = a;
    }
    let full = Mat::<f64>::from_fn(d, d, |i, j| {
        if pos[i] == usize::MAX || pos[j] == usize::MAX {
            0.0
        } else {
            cov[(pos[i], pos[j])]
        }
    });
    full_top_k(full.as_ref(), k)
}

/// Scatters eigenvectors of the active block back to length `d`.
fn expand(p: Eigenpairs, active: &[usize], d: usize) -> Eigenpairs {
    let da = active.len();
    let mut vectors = vec![0f64; p.values.len() * d];
    for (dst, src) in vectors.chunks_exact_mut(d).zip(p.vectors.chunks_exact(da)) {
        for (&j, &v) in active.iter().zip(src) {
            dst[j] = v;
        }
    }
    Eigenpairs {
        values: p.values,
        vectors,
    }
}

/// Top `k` eigenpairs from faer's full self-adjoint eigendecomposition.
pub(crate) fn full_top_k(lower: MatRef<'_, f64>, k: usize) -> Result<Eigenpairs> {
    let d = lower.nrows();
    let evd = lower
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| MlError::Numerical(format!("eigendecomposition failed: {e:?}")))?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let mut values = Vec::with_capacity(k);
    let mut vectors = Vec::with_capacity(k * d);
    for c in 0..k {
        let j = d - 1 - c;
        values.push(s[j]);
        vectors.extend((0..d).map(|i| u[(i, j)]));
    }
    Ok(Eigenpairs { values, vectors })
}

/// Block size for `k` wanted eigenpairs (measured on MNIST covariances).
fn block_size(k: usize) -> usize {
    if k <= 24 { 8 } else { 16 }
}

/// Exact top-`k` eigenpairs by block Krylov + Rayleigh–Ritz, or `None` if
/// the residual test is not met within the subspace bound.
pub(crate) fn krylov_top_k(lower: MatRef<'_, f64>, k: usize) -> Option<Eigenpairs> {
    let d = lower.nrows();
    let b = block_size(k).min(d.saturating_sub(k)).max(1);
    let m_max = d.min((4 * k + 8 * b).max(k + 24 * b));
    if k == 0 || k + b > m_max {
        return None;
    }
    let c = Mat::<f64>::from_fn(
        d,
        d,
        |i, j| {
            if i >= j { lower[(i, j)] } else { lower[(j, i)] }
        },
    );
    let mut rng = SplitMix(0x5eed_c0de_1234_5678);
    let mut v = vec![0f64; d * m_max];
    let mut av = vec![0f64; d * m_max];
    let mut h = Mat::<f64>::zeros(m_max, m_max);
    v[..d * b].iter_mut().for_each(|x| *x = rng.symmetric());
    orthonormalize_block(&mut v, d, 0, b, &mut rng);

    let mut m = 0usize;
    let mut next_check = (2 * k).max(k + b);
    let mut prev: Option<(usize, f64)> = None;
    loop {
        // AV[:, m..m+b] = C · V[:, m..m+b]
        {
            let vb = MatRef::from_column_major_slice(&v[m * d..(m + b) * d], d, b);
            let avb = MatMut::from_column_major_slice_mut(&mut av[m * d..(m + b) * d], d, b);
            par_matmul(avb, Accum::Replace, c.as_ref(), vb, 1.0);
        }
        // H[0..m+b, m..m+b] = V[:, 0..m+b]ᵀ · AV[:, m..m+b], stored in the lower triangle.
        {
            let vm = MatRef::from_column_major_slice(&v[..(m + b) * d], d, m + b);
            let avb = MatRef::from_column_major_slice(&av[m * d..(m + b) * d], d, b);
            let mut hb = Mat::<f64>::zeros(m + b, b);
            par_matmul(hb.as_mut(), Accum::Replace, vm.transpose(), avb, 1.0);
            for jj in 0..b {
                let j = m + jj;
                for i in 0..m + b {
                    let val = hb[(i, jj)];
                    if i >= j {
                        h[(i, j)] = val;
                    } else {
                        h[(j, i)] = val;
                    }
                }
            }
        }
        m += b;
        let last = m + b > m_max;
        if m >= next_check || last {
            let resid = match rayleigh_ritz(h.as_ref(), &v, &av, d, m, k) {
                Ok(p) => return Some(p),
                Err(r) => r,
            };
            // Residuals fall about geometrically with the subspace size:
            // extrapolate from the last check to the next likely success.
            let mut step = b.max(m / 4);
            if let Some((m0, r0)) = prev
                && resid < r0
                && resid.is_finite()
            {
                let rate = (r0 / resid).ln() / (m - m0) as f64;
                let need = ((resid / KRYLOV_TOL).ln() / rate).ceil();
                // Hopeless (e.g. k reaches a dense bulk of nearly equal
                // eigenvalues): stop paying for Krylov and fall back now.
                // Early residuals fall slowly, so only judge past half way.
                let reachable = need < (2 * m_max) as f64; // false for NaN
                if 2 * m >= m_max && !reachable {
                    return None;
                }
                if need.is_finite() {
                    step = (need as usize).clamp(b, (m / 2).max(b));
                }
            }
            prev = Some((m, resid));
            next_check = m + step;
        }
        if last {
            return None;
        }
        // Next block: the newest product, orthonormalised against the basis.
        v[m * d..(m + b) * d].copy_from_slice(&av[(m - b) * d..m * d]);
        orthonormalize_block(&mut v, d, m, b, &mut rng);
    }
}

/// Rayleigh–Ritz on the first `m` basis vectors; `Ok` only if every one of
/// the top `k` Ritz pairs passes the residual test, else the largest
/// relative residual.
fn rayleigh_ritz(
    h: MatRef<'_, f64>,
    v: &[f64],
    av: &[f64],
    d: usize,
    m: usize,
    k: usize,
) -> std::result::Result<Eigenpairs, f64> {
    let evd = h
        .submatrix(0, 0, m, m)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|_| f64::INFINITY)?;
    let s = evd.S().column_vector();
    let u = evd.U();
    let sk = Mat::<f64>::from_fn(m, k, |i, c| u[(i, m - 1 - c)]);
    let values: Vec<f64> = (0..k).map(|c| s[m - 1 - c]).collect();
    let vm = MatRef::from_column_major_slice(&v[..m * d], d, m);
    let avm = MatRef::from_column_major_slice(&av[..m * d], d, m);
    let mut y = vec![0f64; d * k];
    let mut z = vec![0f64; d * k];
    par_matmul(
        MatMut::from_column_major_slice_mut(&mut y, d, k),
        Accum::Replace,
        vm,
        sk.as_ref(),
        1.0,
    );
    par_matmul(
        MatMut::from_column_major_slice_mut(&mut z, d, k),
        Accum::Replace,
        avm,
        sk.as_ref(),
        1.0,
    );
    let norm_c = s[m - 1].abs();
    let mut worst = 0f64;
    for c in 0..k {
        let theta = values[c];
        let yc = &y[c * d..(c + 1) * d];
        let zc = &z[c * d..(c + 1) * d];
        let r2: f64 = yc
            .iter()
            .zip(zc)
            .map(|(&y, &z)| (z - theta * y) * (z - theta * y))
            .sum();
        let r = r2.sqrt();
        let converged = r <= KRYLOV_TOL * norm_c; // false for NaN
        if !converged {
            let rel = r / norm_c;
            worst = worst.max(if rel.is_nan() { f64::INFINITY } else { rel });
        }
    }
    if worst > 0.0 {
        return Err(worst);
    }
    for yc in y.chunks_exact_mut(d) {
        let n = dot(yc, yc).sqrt();
        yc.iter_mut().for_each(|x| *x /= n);
    }
    Ok(Eigenpairs { values, vectors: y })
}

/// Orthonormalises columns `m..m+b` of `v` (d rows, column-major) against
/// columns `0..m` and each other: two passes of block classical
/// Gram–Schmidt, each followed by modified Gram–Schmidt within the block.
fn orthonormalize_block(v: &mut [f64], d: usize, m: usize, b: usize, rng: &mut SplitMix) {
    let (basis, rest) = v.split_at_mut(m * d);
    let w = &mut rest[..b * d];
    let orig: Vec<f64> = w.chunks_exact(d).map(|c| dot(c, c).sqrt()).collect();
    for pass in 0..2 {
        project_out(basis, w, d, m, b);
        for (j, &orig_j) in orig.iter().enumerate() {
            let (prev, cur) = w.split_at_mut(j * d);
            let cur = &mut cur[..d];
            mgs(prev, cur, d);
            let mut nrm = dot(cur, cur).sqrt();
            let reference = if pass == 0 { orig_j } else { 1.0 };
            let kept = nrm > BREAKDOWN * reference; // false for NaN
            if !kept {
                // In the span already: continue with a fresh random direction.
                loop {
                    cur.iter_mut().for_each(|x| *x = rng.symmetric());
                    let start = dot(cur, cur).sqrt();
                    for _ in 0..2 {
                        project_out(basis, cur, d, m, 1);
                        mgs(prev, cur, d);
                    }
                    nrm = dot(cur, cur).sqrt();
                    if nrm > 0.5 * start || m + j >= d {
                        break;
                    }
                }
            }
            if nrm > 0.0 {
                cur.iter_mut().for_each(|x| *x /= nrm);
            }
        }
    }
}

/// `w -= basis · (basisᵀ · w)` for `basis` d x m and `w` d x b (column-major).
fn project_out(basis: &[f64], w: &mut [f64], d: usize, m: usize, b: usize) {
    if m == 0 {
        return;
    }
    let bm = MatRef::from_column_major_slice(basis, d, m);
    let mut coef = Mat::<f64>::zeros(m, b);
    {
        let wr = MatRef::from_column_major_slice(w, d, b);
        par_matmul(coef.as_mut(), Accum::Replace, bm.transpose(), wr, 1.0);
    }
    let wm = MatMut::from_column_major_slice_mut(w, d, b);
    par_matmul(wm, Accum::Add, bm, coef.as_ref(), -1.0);
}

/// Modified Gram–Schmidt of `cur` against the unit columns in `prev`.
fn mgs(prev: &[f64], cur: &mut [f64], d: usize) {
    for p in prev.chunks_exact(d) {
        let a = dot(p, cur);
        cur.iter_mut().zip(p).for_each(|(c, &p)| *c -= a * p);
    }
}

/// Dot product with four independent accumulators.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (ac, ar) = a.split_at(a.len() / 4 * 4);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(4).zip(bc.chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `dst (+)= alpha · lhs · rhs`, split into fixed row blocks that run on the
/// rayon pool. The split depends only on the shape, so results do not
/// depend on the number of threads.
fn par_matmul(
    dst: MatMut<'_, f64>,
    accum: Accum,
    lhs: MatRef<'_, f64>,
    rhs: MatRef<'_, f64>,
    alpha: f64,
) {
    const MIN_ROWS: usize = 64;
    const MIN_FLOPS: usize = 1 << 17;
    let n = dst.nrows();
    let flops = n * dst.ncols() * lhs.ncols();
    if n < 2 * MIN_ROWS || flops < MIN_FLOPS {
        matmul(dst, accum, lhs, rhs, alpha, Par::Seq);
        return;
    }
    let parts = (n / MIN_ROWS).min(8);
    let step = n.div_ceil(parts);
    let mut pieces = Vec::with_capacity(parts);
    let (mut dst, mut lhs) = (dst, lhs);
    while dst.nrows() > step {
        let (a, rest) = dst.split_at_row_mut(step);
        let (la, lrest) = lhs.split_at_row(step);
        pieces.push((a, la));
        dst = rest;
        lhs = lrest;
    }
    pieces.push((dst, lhs));
    pieces
        .into_par_iter()
        .for_each(|(d, l)| matmul(d, accum, l, rhs, alpha, Par::Seq));
}

/// splitmix64: the deterministic source of start and restart vectors.
struct SplitMix(u64);

impl SplitMix {
    /// Uniform in `[-1, 1)`.
    fn symmetric(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lower triangle of `Q diag(values) Qᵀ` for a pseudo-random orthogonal `Q`.
    fn with_spectrum(values: &[f64], seed: u64) -> Mat<f64> {
        let d = values.len();
        let mut rng = SplitMix(seed);
        let mut q: Vec<f64> = (0..d * d).map(|_| rng.symmetric()).collect();
        orthonormalize_block(&mut q, d, 0, d, &mut rng);
        Mat::from_fn(d, d, |i, j| {
            (0..d)
                .map(|c| q[c * d + i] * values[c] * q[c * d + j])
                .sum::<f64>()
        })
    }

    /// Checks Krylov against the full decomposition: eigenvalues (relative
    /// 1e-6 to ‖C‖), the top-k subspace, and residuals.
    fn check(values: &[f64], k: usize) {
        let c = with_spectrum(values, 7);
        let d = values.len();
        let fast = krylov_top_k(c.as_ref(), k).expect("Krylov converges");
        let full = full_top_k(c.as_ref(), k).unwrap();
        let norm = full.values[0];
        for (a, b) in fast.values.iter().zip(&full.values) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-3 * norm),
                "{a} vs {b}"
            );
        }
        // Every exact eigenvector lies in the Krylov top-k subspace.
        for u in full.vectors.chunks_exact(d) {
            let proj: f64 = fast
                .vectors
                .chunks_exact(d)
                .map(|v| dot(u, v).powi(2))
                .sum();
            assert!(proj > 1.0 - 1e-6, "subspace mismatch: {proj}");
        }
        for (v, &theta) in fast.vectors.chunks_exact(d).zip(&fast.values) {
            let r: f64 = (0..d)
                .map(|i| {
                    let cv: f64 = (0..d).map(|j| c[(i.max(j), i.min(j))] * v[j]).sum();
                    (cv - theta * v[i]).powi(2)
                })
                .sum();
            assert!(r.sqrt() <= 1e-8 * norm, "residual {}", r.sqrt());
        }
    }

    #[test]
    fn repeated_eigenvalues_are_all_found() {
        // Multiplicities 4, 2, 3 at the top, then a decaying tail.
        let mut values = vec![10., 10., 10., 10., 7., 7., 5., 5., 5., 3.];
        values.extend((0..190).map(|i| 2.0 / (1.0 + i as f64 * 0.1)));
        check(&values, 10);
    }

    #[test]
    fn clustered_eigenvalues_converge() {
        let mut values = vec![
            10.0,
            10.0 * (1.0 - 1e-10),
            10.0 * (1.0 - 2e-10),
            9.999,
            6.0,
            6.0 + 1e-9,
            4.0,
        ];
        values.extend((0..250).map(|i| 3.0 * (-(i as f64) / 40.0).exp()));
        check(&values, 7);
    }

    #[test]
    fn low_rank_matrix_restarts_cleanly() {
        // Rank 5 < k: the Krylov space becomes invariant and is extended
        // with fresh random directions; trailing eigenvalues are zero.
        let mut values = vec![0.0; 120];
        values[..5].copy_from_slice(&[5., 4., 3., 2., 1.]);
        let c = with_spectrum(&values, 3);
        let fast = krylov_top_k(c.as_ref(), 12).expect("converges");
        let full = full_top_k(c.as_ref(), 12).unwrap();
        for (a, b) in fast.values.iter().zip(&full.values) {
            assert!((a - b).abs() < 1e-9 * 5.0, "{a} vs {b}");
        }
        let d = values.len();
        for (u, v) in full
            .vectors
            .chunks_exact(d)
            .zip(fast.vectors.chunks_exact(d))
            .take(5)
        {
            assert!(dot(u, v).abs() > 1.0 - 1e-9);
        }
    }

    #[test]
    fn zero_matrix_and_tiny_sizes() {
        let c = Mat::<f64>::zeros(80, 80);
        let p = krylov_top_k(c.as_ref(), 3).expect("trivially converged");
        assert!(p.values.iter().all(|&v| v == 0.0));
        let c = with_spectrum(&[3.0, 2.0, 1.0], 1);
        let p = top_eigenpairs(c.as_ref(), &[0, 1, 2], 3, 2, EigenSolver::Krylov).unwrap();
        assert!((p.values[0] - 3.0).abs() < 1e-12 && (p.values[1] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn inactive_columns_are_zero_in_eigenvectors() {
        let values: Vec<f64> = (0..100).map(|i| 1.0 / (1.0 + i as f64)).collect();
        let c = with_spectrum(&values, 5);
        let active: Vec<usize> = (0..140).filter(|j| j % 4 != 1).take(100).collect();
        assert_eq!(active.len(), 100);
        let d = active.last().unwrap() + 3;
        for solver in [EigenSolver::Krylov, EigenSolver::Full] {
            let p = top_eigenpairs(c.as_ref(), &active, d, 5, solver).unwrap();
            for v in p.vectors.chunks_exact(d) {
                for (j, &x) in v.iter().enumerate() {
                    if !active.contains(&j) {
                        // exactly zero when scattered; Householder rounding otherwise
                        assert!(x.abs() < 1e-12, "{solver:?}: entry {j} is {x}");
                    }
                }
            }
            assert!(
                (p.values[0] - 1.0).abs() < 1e-9,
                "{solver:?} {:?}",
                p.values
            );
        }
    }
}
