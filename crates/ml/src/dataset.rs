//! The one dataset type every [`crate::Fit`] takes: records plus targets
//! that are class labels, real values or absent.
//!
//! A [`Dataset`] is valid by construction: the records are finite, there is
//! one target per record, class labels are below the declared number of
//! classes and real targets are finite. So a model's `fit` only checks what
//! is specific to it (the kind of targets it needs, its own size limits).

use crate::{Matrix, MatrixView, MlError, Result};

/// The targets of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class labels in `0..n_classes`.
    Classes {
        /// One label per record.
        labels: Vec<u32>,
        /// The number of classes (at least 1; labels are below it).
        n_classes: usize,
    },
    /// Real-valued targets (regression), all finite.
    Real(Vec<f32>),
    /// No targets (unsupervised learning).
    None,
}

impl Targets {
    /// `"class"`, `"real-valued"` or `"no"`: how errors name the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Targets::Classes { .. } => "class",
            Targets::Real(_) => "real-valued",
            Targets::None => "no",
        }
    }

    /// Checks the targets against `rows` records.
    fn check(&self, rows: usize) -> Result<()> {
        let len_check = |got: usize| {
            if got != rows {
                return Err(MlError::ShapeMismatch {
                    what: "number of targets".into(),
                    expected: rows,
                    got,
                });
            }
            Ok(())
        };
        match self {
            Targets::Classes { labels, n_classes } => {
                if *n_classes == 0 {
                    return Err(MlError::InvalidParameter {
                        name: "n_classes",
                        reason: "must be at least 1".into(),
                    });
                }
                len_check(labels.len())?;
                if let Some(row) = labels.iter().position(|&l| l as usize >= *n_classes) {
                    return Err(MlError::LabelOutOfRange {
                        label: labels[row],
                        row,
                        n_classes: *n_classes,
                    });
                }
                Ok(())
            }
            Targets::Real(y) => {
                len_check(y.len())?;
                if let Some(row) = y.iter().position(|v| !v.is_finite()) {
                    return Err(MlError::Numerical(format!(
                        "target {} at row {row} is not finite",
                        y[row]
                    )));
                }
                Ok(())
            }
            Targets::None => Ok(()),
        }
    }

    /// The targets of the rows `rows` (indices already checked).
    fn select(&self, rows: &[usize]) -> Targets {
        match self {
            Targets::Classes { labels, n_classes } => Targets::Classes {
                labels: rows.iter().map(|&r| labels[r]).collect(),
                n_classes: *n_classes,
            },
            Targets::Real(y) => Targets::Real(rows.iter().map(|&r| y[r]).collect()),
            Targets::None => Targets::None,
        }
    }
}

/// Records (a row-major `f32` matrix, one row per sample) and their targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    records: Matrix,
    targets: Targets,
}

impl Dataset {
    /// A dataset of `records` and `targets`, validated: finite records, one
    /// target per record, labels below `n_classes >= 1`, finite real targets.
    pub fn new(records: Matrix, targets: Targets) -> Result<Self> {
        records.view().check_finite()?;
        targets.check(records.rows())?;
        Ok(Self { records, targets })
    }

    /// A classification dataset with labels in `0..n_classes`.
    pub fn classification(records: Matrix, labels: Vec<u32>, n_classes: usize) -> Result<Self> {
        Self::new(records, Targets::Classes { labels, n_classes })
    }

    /// A classification dataset from `u8` labels (image sets store them so).
    pub fn from_u8_labels(records: Matrix, labels: &[u8], n_classes: usize) -> Result<Self> {
        Self::classification(
            records,
            labels.iter().map(|&l| l as u32).collect(),
            n_classes,
        )
    }

    /// A regression dataset with finite targets.
    pub fn regression(records: Matrix, targets: Vec<f32>) -> Result<Self> {
        Self::new(records, Targets::Real(targets))
    }

    /// A dataset without targets.
    pub fn unsupervised(records: Matrix) -> Result<Self> {
        Self::new(records, Targets::None)
    }

    /// The records (one row per sample).
    pub fn records(&self) -> &Matrix {
        &self.records
    }

    /// A view of the records.
    pub fn view(&self) -> MatrixView<'_> {
        self.records.view()
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// The class labels, if the targets are classes.
    pub fn labels(&self) -> Option<&[u32]> {
        match &self.targets {
            Targets::Classes { labels, .. } => Some(labels),
            _ => None,
        }
    }

    /// The number of classes, if the targets are classes.
    pub fn n_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes { n_classes, .. } => Some(*n_classes),
            _ => None,
        }
    }

    /// The real-valued targets, if the targets are real.
    pub fn real_targets(&self) -> Option<&[f32]> {
        match &self.targets {
            Targets::Real(y) => Some(y),
            _ => None,
        }
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.rows()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of features (columns of the records).
    pub fn n_features(&self) -> usize {
        self.records.cols()
    }

    /// The records `rows` (in that order, repeats allowed) with their
    /// targets, for folds and splits. Classes keep their `n_classes` even if
    /// a class is absent from the selection.
    pub fn select(&self, rows: &[usize]) -> Result<Dataset> {
        let n = self.len();
        if let Some(&r) = rows.iter().find(|&&r| r >= n) {
            return Err(MlError::InvalidParameter {
                name: "rows",
                reason: format!("row index {r} is out of range for {n} rows"),
            });
        }
        let d = self.n_features();
        let mut data = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            data.extend_from_slice(self.records.row(r));
        }
        Ok(Dataset {
            records: Matrix::new(rows.len(), d, data)?,
            targets: self.targets.select(rows),
        })
    }

    /// The same records with other targets (validated against them), e.g.
    /// out-of-fold predictions as the targets of a stacking layer.
    pub fn with_targets(self, targets: Targets) -> Result<Dataset> {
        targets.check(self.records.rows())?;
        Ok(Dataset {
            records: self.records,
            targets,
        })
    }

    /// Records and targets.
    pub fn into_parts(self) -> (Matrix, Targets) {
        (self.records, self.targets)
    }

    /// The targets kind as an error for `model`, which needs `expected`.
    pub(crate) fn target_mismatch(&self, model: &'static str, expected: &'static str) -> MlError {
        MlError::TargetMismatch {
            model,
            expected,
            got: self.targets.kind(),
        }
    }

    /// The labels and class count, or [`MlError::TargetMismatch`] for `model`.
    pub(crate) fn require_classes(&self, model: &'static str) -> Result<(&[u32], usize)> {
        match &self.targets {
            Targets::Classes { labels, n_classes } => Ok((labels, *n_classes)),
            _ => Err(self.target_mismatch(model, "class")),
        }
    }

    /// The real targets, or [`MlError::TargetMismatch`] for `model`.
    pub(crate) fn require_real(&self, model: &'static str) -> Result<&[f32]> {
        match &self.targets {
            Targets::Real(y) => Ok(y),
            _ => Err(self.target_mismatch(model, "real-valued")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(rows: usize) -> Matrix {
        Matrix::new(rows, 2, (0..rows * 2).map(|v| v as f32).collect()).unwrap()
    }

    #[test]
    fn constructors_validate() {
        assert!(Dataset::classification(x(3), vec![0, 1, 2], 3).is_ok());
        assert!(matches!(
            Dataset::classification(x(3), vec![0, 1, 3], 3),
            Err(MlError::LabelOutOfRange {
                label: 3,
                row: 2,
                n_classes: 3
            })
        ));
        assert!(matches!(
            Dataset::classification(x(3), vec![0, 1], 3),
            Err(MlError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            Dataset::classification(x(0), vec![], 0),
            Err(MlError::InvalidParameter {
                name: "n_classes",
                ..
            })
        ));
        assert!(matches!(
            Dataset::regression(x(2), vec![1.0, f32::INFINITY]),
            Err(MlError::Numerical(_))
        ));
        let mut nan = x(2);
        nan.data_mut()[1] = f32::NAN;
        assert!(matches!(
            Dataset::unsupervised(nan),
            Err(MlError::Numerical(_))
        ));
        // Labels above 255 are fine: the type has no 256-class limit.
        let d = Dataset::classification(x(2), vec![0, 299], 300).unwrap();
        assert_eq!(d.n_classes(), Some(300));
        assert_eq!(d.labels(), Some(&[0, 299][..]));
        assert_eq!(d.real_targets(), None);
    }

    #[test]
    fn select_takes_rows_and_targets_in_order() {
        let d = Dataset::regression(x(4), vec![10.0, 11.0, 12.0, 13.0]).unwrap();
        let s = d.select(&[3, 1, 1]).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s.n_features(), 2);
        assert_eq!(s.records().data(), &[6., 7., 2., 3., 2., 3.]);
        assert_eq!(s.real_targets(), Some(&[13.0, 11.0, 11.0][..]));
        assert!(d.select(&[4]).is_err());
        let c = Dataset::from_u8_labels(x(3), &[2, 0, 1], 3).unwrap();
        let s = c.select(&[0]).unwrap();
        assert_eq!(
            s.targets(),
            &Targets::Classes {
                labels: vec![2],
                n_classes: 3
            }
        );
        assert!(c.select(&[]).unwrap().is_empty());
    }

    #[test]
    fn with_targets_checks_the_new_targets() {
        let d = Dataset::unsupervised(x(2)).unwrap();
        assert_eq!(d.targets().kind(), "no");
        let r = d
            .clone()
            .with_targets(Targets::Real(vec![1.0, 2.0]))
            .unwrap();
        assert_eq!(r.real_targets(), Some(&[1.0, 2.0][..]));
        assert!(d.with_targets(Targets::Real(vec![1.0])).is_err());
    }
}
