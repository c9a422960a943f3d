//! The elastic-net coordinate-descent core: scikit-learn's
//! `enet_coordinate_descent` (cyclic order), on columns stored contiguously
//! in `f64`.
//!
//! It minimises
//!
//! ```text
//! 1/(2n) ||y - X w||² + l1 ||w||₁ + l2/2 ||w||²
//! ```
//!
//! over `w` (`n` rows). [`crate::linear::Lasso`] is `l1 = alpha`, `l2 = 0`;
//! [`crate::linear::ElasticNet`] is `l1 = alpha * l1_ratio`,
//! `l2 = alpha * (1 - l1_ratio)`. There is no intercept and no scaling in
//! here: a caller fitting an intercept centres `X` and `y` first (and puts
//! `mean(y) - mean(X) . w` back), and a caller that wants standardised
//! features standardises them; so other objectives built on the same
//! problem (Spark's elastic net, which standardises inside) reuse it as is.
//!
//! Stopping follows scikit-learn exactly, so that its iterates and ours stop
//! at the same epoch: after an epoch whose largest coordinate change is
//! below `tol * max|w|` (or whose `w` is all zero, or the last epoch), the
//! duality gap of the problem scaled by `n` is computed, and the descent
//! stops once it is below `tol * ||y||²`.
//!
//! The loop is written once over how the residual `y - X w` is held: as a
//! vector over the rows ([`coordinate_descent`], on [`Columns`]) or as `Xᵀ`
//! times it, from the problem's sufficient statistics ([`Gram`],
//! [`coordinate_descent_gram`]), which is what a data-parallel fit that sums
//! per-shard `XᵀX` and `Xᵀy` solves (Spark's elastic net in
//! [`crate::mllib`]).

use crate::{MatrixView, MlError, Result};

/// A design matrix stored column after column in `f64`, what coordinate
/// descent reads (one column per coordinate update).
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Columns {
    /// The columns of `x`, each shifted by `-shift[j]` (pass the column
    /// means to centre, or zeros). A `shift` of the wrong length is
    /// [`MlError::ShapeMismatch`].
    pub fn from_rows(x: MatrixView<'_>, shift: &[f64]) -> Result<Self> {
        let (rows, cols) = (x.rows(), x.cols());
        if shift.len() != cols {
            return Err(MlError::ShapeMismatch {
                what: "column shifts".into(),
                expected: cols,
                got: shift.len(),
            });
        }
        let mut data = vec![0f64; rows * cols];
        if cols > 0 {
            for (i, row) in x.data().chunks_exact(cols).enumerate() {
                for (j, (&v, &s)) in row.iter().zip(shift).enumerate() {
                    data[j * rows + i] = f64::from(v) - s;
                }
            }
        }
        Ok(Self { rows, cols, data })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Column `j`. Panics if `j >= cols()`.
    pub fn column(&self, j: usize) -> &[f64] {
        &self.data[j * self.rows..(j + 1) * self.rows]
    }
}

/// The penalty of the problem, per sample: `l1 ||w||₁ + l2/2 ||w||²`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalty {
    /// Weight of the L1 norm; finite, at least 0.
    pub l1: f64,
    /// Weight of half the squared L2 norm; finite, at least 0.
    pub l2: f64,
}

/// When coordinate descent stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stopping {
    /// Relative tolerance on the coordinate updates and the duality gap
    /// (scikit-learn's `tol`, default 1e-4); finite, above 0.
    pub tol: f64,
    /// Maximum number of epochs (passes over all coordinates); at least 1.
    pub max_iter: usize,
}

impl Default for Stopping {
    fn default() -> Self {
        Self {
            tol: 1e-4,
            max_iter: 1000,
        }
    }
}

/// How a coordinate descent ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Epochs run.
    pub n_iter: usize,
    /// The last duality gap computed (of the problem scaled by `n`;
    /// infinite if none was computed).
    pub gap: f64,
    /// Whether the gap fell below the tolerance before `max_iter`.
    pub converged: bool,
}

/// Dot product with four accumulators (vectorisable).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += a * x`.
pub(crate) fn axpy(a: f64, x: &[f64], y: &mut [f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Minimises `1/(2n) ||y - X w||² + l1 ||w||₁ + l2/2 ||w||²` by cyclic
/// coordinate descent, starting from (and updating) `w`.
///
/// `y` needs one value per row and `w` one per column
/// ([`MlError::ShapeMismatch`] otherwise); `penalty` and `stop` must be in
/// range ([`MlError::InvalidParameter`]). Columns of zeros keep their
/// coefficient. Not converging within `max_iter` epochs is not an error:
/// [`Outcome::converged`] says so, as scikit-learn's warning does.
pub fn coordinate_descent(
    x: &Columns,
    y: &[f64],
    penalty: Penalty,
    stop: Stopping,
    w: &mut [f64],
) -> Result<Outcome> {
    let (n, d) = (x.rows, x.cols);
    for (what, expected, got) in [("targets", n, y.len()), ("coefficients", d, w.len())] {
        if expected != got {
            return Err(MlError::ShapeMismatch {
                what: what.into(),
                expected,
                got,
            });
        }
    }
    let mut r = y.to_vec();
    for (j, &wj) in w.iter().enumerate() {
        if wj != 0.0 {
            axpy(-wj, x.column(j), &mut r);
        }
    }
    let mut problem = RowResidual { x, y, r };
    descend(&mut problem, n, dot(y, y), penalty, stop, w)
}

/// The sufficient statistics of a least-squares problem: `n`, `XᵀX` (`d x d`, row-major),
/// `Xᵀy` and `yᵀy`, for whatever (centred, scaled) `X` and `y` the caller chose. Coordinate
/// descent on them ([`coordinate_descent_gram`]) takes the same steps as on the rows
/// ([`coordinate_descent`]) in `O(d)` per coordinate, whatever `n`: what a driver that sums
/// per-shard statistics fits from.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    /// Number of rows the statistics summarise.
    pub n: usize,
    /// `XᵀX`, `d x d` row-major.
    pub xtx: Vec<f64>,
    /// `Xᵀy`, `d` entries.
    pub xty: Vec<f64>,
    /// `yᵀy`.
    pub yty: f64,
}

impl Gram {
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.xty.len()
    }
}

/// [`coordinate_descent`] from the sufficient statistics of the problem instead of its rows:
/// the same objective, updates (up to rounding) and stopping rule.
///
/// `gram.xtx` must be `d x d` and `w` have `d` entries ([`MlError::ShapeMismatch`]), and
/// `gram.n` must be at least 1 ([`MlError::EmptyInput`]).
pub fn coordinate_descent_gram(
    gram: &Gram,
    penalty: Penalty,
    stop: Stopping,
    w: &mut [f64],
) -> Result<Outcome> {
    let d = gram.cols();
    for (what, expected, got) in [
        ("Gram matrix entries", d * d, gram.xtx.len()),
        ("coefficients", d, w.len()),
    ] {
        if expected != got {
            return Err(MlError::ShapeMismatch {
                what: what.into(),
                expected,
                got,
            });
        }
    }
    if gram.n == 0 {
        return Err(MlError::EmptyInput(
            "sufficient statistics of no rows".into(),
        ));
    }
    // q = Xᵀr = Xᵀy - XᵀX w.
    let q = (0..d)
        .map(|j| gram.xty[j] - dot(&gram.xtx[j * d..(j + 1) * d], w))
        .collect();
    let mut problem = GramResidual { gram, q };
    descend(&mut problem, gram.n, gram.yty, penalty, stop, w)
}

/// What coordinate descent reads of a problem: the columns' correlations with the residual
/// `r = y - X w`, kept up to date as coefficients move, and the norms the duality gap needs.
/// Rows ([`RowResidual`]) and sufficient statistics ([`GramResidual`]) are the two ways to
/// hold it; [`descend`] is written once over both.
trait Residual {
    /// Number of columns.
    fn cols(&self) -> usize;
    /// `x_j · x_j`.
    fn col_norm2(&self, j: usize) -> f64;
    /// `x_j · r`.
    fn corr(&self, j: usize) -> f64;
    /// `r += a x_j`.
    fn add_col(&mut self, j: usize, a: f64);
    /// `r · r` at coefficients `w`.
    fn r_norm2(&self, w: &[f64]) -> f64;
    /// `r · y` at coefficients `w`.
    fn r_dot_y(&self, w: &[f64]) -> f64;
}

/// The residual held as a vector over the rows.
struct RowResidual<'a> {
    x: &'a Columns,
    y: &'a [f64],
    r: Vec<f64>,
}

impl Residual for RowResidual<'_> {
    fn cols(&self) -> usize {
        self.x.cols
    }
    fn col_norm2(&self, j: usize) -> f64 {
        dot(self.x.column(j), self.x.column(j))
    }
    fn corr(&self, j: usize) -> f64 {
        dot(self.x.column(j), &self.r)
    }
    fn add_col(&mut self, j: usize, a: f64) {
        axpy(a, self.x.column(j), &mut self.r);
    }
    fn r_norm2(&self, _w: &[f64]) -> f64 {
        dot(&self.r, &self.r)
    }
    fn r_dot_y(&self, _w: &[f64]) -> f64 {
        dot(&self.r, self.y)
    }
}

/// The residual held as `q = Xᵀr` over the columns, from the sufficient statistics:
/// `r·r = yᵀy - wᵀXᵀy - wᵀq` and `r·y = yᵀy - wᵀXᵀy`.
struct GramResidual<'a> {
    gram: &'a Gram,
    q: Vec<f64>,
}

impl Residual for GramResidual<'_> {
    fn cols(&self) -> usize {
        self.q.len()
    }
    fn col_norm2(&self, j: usize) -> f64 {
        self.gram.xtx[j * self.q.len() + j]
    }
    fn corr(&self, j: usize) -> f64 {
        self.q[j]
    }
    fn add_col(&mut self, j: usize, a: f64) {
        let d = self.q.len();
        // XᵀX is symmetric: its row j is its column j.
        axpy(a, &self.gram.xtx[j * d..(j + 1) * d], &mut self.q);
    }
    fn r_norm2(&self, w: &[f64]) -> f64 {
        (self.gram.yty - dot(w, &self.gram.xty) - dot(w, &self.q)).max(0.0)
    }
    fn r_dot_y(&self, w: &[f64]) -> f64 {
        self.gram.yty - dot(w, &self.gram.xty)
    }
}

/// The one coordinate-descent loop (scikit-learn's `enet_coordinate_descent`) over a problem
/// of `n` rows whose targets have squared norm `y_norm2`, from (and updating) `w`.
fn descend<R: Residual>(
    p: &mut R,
    n: usize,
    y_norm2: f64,
    penalty: Penalty,
    stop: Stopping,
    w: &mut [f64],
) -> Result<Outcome> {
    super::check_non_negative("l1", penalty.l1)?;
    super::check_non_negative("l2", penalty.l2)?;
    super::check_positive("tol", stop.tol)?;
    super::check_at_least_one("max_iter", stop.max_iter)?;

    // scikit-learn's unscaled form: 1/2 ||y - Xw||² + alpha ||w||₁ + beta/2 ||w||².
    let d = p.cols();
    let alpha = penalty.l1 * n as f64;
    let beta = penalty.l2 * n as f64;
    let norm_cols: Vec<f64> = (0..d).map(|j| p.col_norm2(j)).collect();
    let gap_tol = stop.tol * y_norm2;
    let mut gap = f64::INFINITY;
    for epoch in 0..stop.max_iter {
        let mut w_max = 0f64;
        let mut d_w_max = 0f64;
        for j in 0..d {
            if norm_cols[j] == 0.0 {
                continue;
            }
            let w_old = w[j];
            if w_old != 0.0 {
                p.add_col(j, w_old);
            }
            let tmp = p.corr(j);
            let w_new = tmp.signum() * (tmp.abs() - alpha).max(0.0) / (norm_cols[j] + beta);
            let w_new = if tmp == 0.0 { 0.0 } else { w_new };
            w[j] = w_new;
            if w_new != 0.0 {
                p.add_col(j, -w_new);
            }
            d_w_max = d_w_max.max((w_new - w_old).abs());
            w_max = w_max.max(w_new.abs());
        }
        let last = epoch + 1 == stop.max_iter;
        if w_max == 0.0 || d_w_max / w_max < stop.tol || last {
            gap = duality_gap(p, w, alpha, beta);
            if gap < gap_tol {
                return Ok(Outcome {
                    n_iter: epoch + 1,
                    gap,
                    converged: true,
                });
            }
        }
    }
    Ok(Outcome {
        n_iter: stop.max_iter,
        gap,
        converged: false,
    })
}

/// The duality gap of `1/2 ||y - Xw||² + alpha ||w||₁ + beta/2 ||w||²` at
/// `w` (scikit-learn's formula).
fn duality_gap<R: Residual>(p: &R, w: &[f64], alpha: f64, beta: f64) -> f64 {
    let dual_norm = (0..p.cols())
        .map(|j| (p.corr(j) - beta * w[j]).abs())
        .fold(0f64, f64::max);
    let r_norm2 = p.r_norm2(w);
    let w_norm2 = dot(w, w);
    let (scale, mut gap) = if dual_norm > alpha {
        let c = alpha / dual_norm;
        (c, 0.5 * (r_norm2 + r_norm2 * c * c))
    } else {
        (1.0, r_norm2)
    };
    let l1_norm: f64 = w.iter().map(|v| v.abs()).sum();
    gap += alpha * l1_norm - scale * p.r_dot_y(w) + 0.5 * beta * (1.0 + scale * scale) * w_norm2;
    gap
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Matrix;

    #[test]
    fn without_penalty_it_solves_least_squares() {
        // y = 2 x0 - x1 exactly.
        let x = Matrix::new(4, 2, vec![1., 0., 0., 1., 1., 1., 2., -1.]).unwrap();
        let y = [2., -1., 1., 5.];
        let cols = Columns::from_rows(x.view(), &[0.0, 0.0]).unwrap();
        let mut w = [0.0; 2];
        let stop = Stopping {
            tol: 1e-12,
            max_iter: 10_000,
        };
        let out =
            coordinate_descent(&cols, &y, Penalty { l1: 0.0, l2: 0.0 }, stop, &mut w).unwrap();
        assert!(out.converged);
        assert!(
            (w[0] - 2.0).abs() < 1e-8 && (w[1] + 1.0).abs() < 1e-8,
            "{w:?}"
        );
    }

    #[test]
    fn a_large_l1_penalty_zeroes_everything() {
        let x = Matrix::new(3, 1, vec![1., 2., 3.]).unwrap();
        let cols = Columns::from_rows(x.view(), &[2.0]).unwrap();
        assert_eq!(cols.column(0), &[-1., 0., 1.]);
        let mut w = [0.0];
        let pen = Penalty { l1: 100.0, l2: 0.0 };
        let out =
            coordinate_descent(&cols, &[-1., 0., 1.], pen, Stopping::default(), &mut w).unwrap();
        assert_eq!(w, [0.0]);
        assert!(out.converged);
        assert_eq!(out.n_iter, 1);
    }

    #[test]
    fn the_gram_form_takes_the_same_steps_as_the_rows() {
        let x = Matrix::new(
            6,
            3,
            vec![
                1., 0.5, -2., 0., 1., 1., 2., -1., 0.5, -1., 2., 0., 0.5, 0.5, 1., 3., 0., -1.,
            ],
        )
        .unwrap();
        let y = [1., 2., -1., 0.5, 3., -2.];
        let cols = Columns::from_rows(x.view(), &[0.0; 3]).unwrap();
        let mut xtx = vec![0.0; 9];
        let mut xty = vec![0.0; 3];
        for a in 0..3 {
            for b in 0..3 {
                xtx[a * 3 + b] = dot(cols.column(a), cols.column(b));
            }
            xty[a] = dot(cols.column(a), &y);
        }
        let gram = Gram {
            n: 6,
            xtx,
            xty,
            yty: dot(&y, &y),
        };
        let pen = Penalty { l1: 0.05, l2: 0.1 };
        let stop = Stopping {
            tol: 1e-10,
            max_iter: 500,
        };
        let (mut w_rows, mut w_gram) = ([0.0; 3], [0.0; 3]);
        let a = coordinate_descent(&cols, &y, pen, stop, &mut w_rows).unwrap();
        let b = coordinate_descent_gram(&gram, pen, stop, &mut w_gram).unwrap();
        assert!(a.converged && b.converged);
        assert_eq!(a.n_iter, b.n_iter);
        for (u, v) in w_rows.iter().zip(&w_gram) {
            assert!((u - v).abs() < 1e-9, "{w_rows:?} vs {w_gram:?}");
        }
        assert!(coordinate_descent_gram(&gram, pen, stop, &mut [0.0; 2]).is_err());
        let empty = Gram { n: 0, ..gram };
        assert!(matches!(
            coordinate_descent_gram(&empty, pen, stop, &mut [0.0; 3]),
            Err(MlError::EmptyInput(_))
        ));
    }

    #[test]
    fn bad_shapes_and_settings_are_errors() {
        let x = Matrix::new(2, 1, vec![1., 2.]).unwrap();
        let cols = Columns::from_rows(x.view(), &[0.0]).unwrap();
        let pen = Penalty { l1: 0.1, l2: 0.0 };
        let s = Stopping::default();
        assert!(coordinate_descent(&cols, &[1.0], pen, s, &mut [0.0]).is_err());
        assert!(coordinate_descent(&cols, &[1.0, 2.0], pen, s, &mut [0.0, 0.0]).is_err());
        let bad = Penalty { l1: -1.0, l2: 0.0 };
        assert!(matches!(
            coordinate_descent(&cols, &[1.0, 2.0], bad, s, &mut [0.0]),
            Err(MlError::InvalidParameter { name: "l1", .. })
        ));
        assert!(Columns::from_rows(x.view(), &[]).is_err());
    }
}
