//! LIBSVM / SVMlight text: one row per line, `label index:value index:value ...`, indices
//! 1-based and increasing, absent features zero (Spark MLlib's sample data uses it).
//!
//! Rows become a dense [`Table`]: the tables this format carries here (Spark's samples, a few
//! hundred features) are small, and every algorithm takes dense rows. The width comes from the
//! largest index (or the caller's), checked against [`MAX_FEATURES`] and [`MAX_CELLS`] before
//! anything is allocated, so a crafted index cannot make the reader allocate gigabytes.

use crate::csv_table::Table;
use crate::{DatasetError, Result};

/// The widest table accepted (features per row).
pub const MAX_FEATURES: usize = 1 << 20;
/// The most values (rows times features) of the dense table: 2^26 `f32`s, a 256 MiB table.
///
/// The format is sparse, so a few kilobytes of text (64 rows each naming feature 2^20) can
/// declare this much; the cap keeps that amplification at the size of the largest table a
/// workflow here reads many times over (Spark's samples are 100 x 692).
pub const MAX_CELLS: usize = 1 << 26;

fn err(line: usize, reason: impl Into<String>) -> DatasetError {
    DatasetError::Libsvm {
        line: line as u64,
        reason: reason.into(),
    }
}

/// A number a LIBSVM file holds, read as `f32` (the dense [`Table`]) or `f64` ([`Table64`]).
trait Value: std::str::FromStr + Copy + Default {
    fn is_finite(self) -> bool;
}

impl Value for f32 {
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Value for f64 {
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

/// One parsed row: the label and its `(0-based index, value)` pairs.
type Row<T> = (T, Vec<(usize, T)>);

fn parse_line<T: Value>(number: usize, line: &str) -> Result<Option<Row<T>>> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return Ok(None);
    }
    let mut fields = line.split_whitespace();
    let label = fields.next().unwrap_or("");
    let label: T = label
        .parse()
        .ok()
        .filter(|v: &T| v.is_finite())
        .ok_or_else(|| err(number, format!("label {label:?} is not a finite number")))?;
    let mut pairs = Vec::new();
    let mut last = 0usize;
    for field in fields {
        let (index, value) = field
            .split_once(':')
            .ok_or_else(|| err(number, format!("{field:?} is not index:value")))?;
        let index: usize = index
            .parse()
            .map_err(|_| err(number, format!("index {index:?} is not a positive integer")))?;
        if index == 0 {
            return Err(err(number, "indices are 1-based; found index 0"));
        }
        if index <= last {
            return Err(err(
                number,
                format!("indices must increase; {index} follows {last}"),
            ));
        }
        if index > MAX_FEATURES {
            return Err(err(
                number,
                format!("index {index} is beyond the widest table read ({MAX_FEATURES} features)"),
            ));
        }
        let value: T = value
            .parse()
            .ok()
            .filter(|v: &T| v.is_finite())
            .ok_or_else(|| err(number, format!("value {value:?} is not a finite number")))?;
        last = index;
        pairs.push((index - 1, value));
    }
    Ok(Some((label, pairs)))
}

/// The rows of `text`, their width checked; returns `(labels, dense features, width)`.
fn read_dense<T: Value>(text: &str, n_features: Option<usize>) -> Result<(Vec<T>, Vec<T>, usize)> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(row) = parse_line::<T>(i + 1, line)? {
            rows.push(row);
        }
    }
    let widest = rows
        .iter()
        .filter_map(|(_, pairs)| pairs.last().map(|(i, _)| i + 1))
        .max()
        .unwrap_or(0);
    let n_cols = match n_features {
        Some(n) if n < widest => {
            return Err(err(
                0,
                format!("a row has feature {widest}, beyond the {n} features asked for"),
            ));
        }
        Some(n) => n,
        None => widest,
    };
    if n_cols > MAX_FEATURES || rows.len().saturating_mul(n_cols) > MAX_CELLS {
        return Err(err(
            0,
            format!(
                "{} rows x {n_cols} features is too large a dense table (at most {MAX_CELLS} values)",
                rows.len()
            ),
        ));
    }
    let mut features = vec![T::default(); rows.len() * n_cols];
    let mut labels = Vec::with_capacity(rows.len());
    for (r, (label, pairs)) in rows.iter().enumerate() {
        labels.push(*label);
        for &(c, v) in pairs {
            features[r * n_cols + c] = v;
        }
    }
    Ok((labels, features, n_cols))
}

/// Reads LIBSVM text into a dense table `f1..fN` with the labels as targets; `n_features`
/// fixes the width (it must cover every index), else the largest index sets it.
pub fn read_libsvm(text: &str, n_features: Option<usize>) -> Result<Table> {
    let (targets, features, n_cols) = read_dense::<f32>(text, n_features)?;
    Ok(Table {
        feature_names: (1..=n_cols).map(|i| format!("f{i}")).collect(),
        n_rows: targets.len(),
        n_cols,
        features,
        targets,
    })
}

/// A LIBSVM table read in `f64`, as Spark reads it (its vectors are doubles): what
/// reproducing Spark's figures to 1e-9 needs, where `f32` values (`0.1` is `0.10000000149`)
/// move them by 1e-6.
#[derive(Debug, Clone, PartialEq)]
pub struct Table64 {
    /// The number of rows.
    pub n_rows: usize,
    /// The number of features.
    pub n_cols: usize,
    /// `n_rows * n_cols` feature values, row-major.
    pub features: Vec<f64>,
    /// One label per row.
    pub labels: Vec<f64>,
}

/// [`read_libsvm`] in `f64`: the same checks and layout.
pub fn read_libsvm_f64(text: &str, n_features: Option<usize>) -> Result<Table64> {
    let (labels, features, n_cols) = read_dense::<f64>(text, n_features)?;
    Ok(Table64 {
        n_rows: labels.len(),
        n_cols,
        features,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_rows_become_dense() {
        let t = read_libsvm("1 1:0.5 3:2\n0 2:1 # comment\n\n-1.5\n", None).unwrap();
        assert_eq!((t.n_rows, t.n_cols), (3, 3));
        assert_eq!(
            t.features,
            vec![0.5, 0.0, 2.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
        );
        assert_eq!(t.targets, vec![1.0, 0.0, -1.5]);
        assert_eq!(t.feature_names, ["f1", "f2", "f3"]);
        assert_eq!(read_libsvm("1 1:1\n", Some(4)).unwrap().n_cols, 4);
        let d = read_libsvm_f64("0.1 1:0.1 3:9.2\n", None).unwrap();
        assert_eq!((d.n_rows, d.n_cols), (1, 3));
        assert_eq!((d.labels, d.features), (vec![0.1], vec![0.1, 0.0, 9.2]));
        assert!(read_libsvm_f64("1 1:1e999\n", None).is_err());
    }

    #[test]
    fn bad_lines_name_the_line_and_the_problem() {
        for (text, expected) in [
            ("1 1:1\nx 1:1\n", "line 2: label \"x\""),
            ("1 0:1\n", "1-based"),
            ("1 2:1 1:1\n", "must increase"),
            ("1 1:nan\n", "not a finite number"),
            ("1 a:1\n", "not a positive integer"),
            ("1 12\n", "not index:value"),
            ("1 4294967295:1\n", "beyond the widest table"),
        ] {
            let e = read_libsvm(text, None).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
        // Comment and blank lines count: the number is the file's line.
        let e = read_libsvm("# header\n\n1 1:1\n1 1:z\n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 4") && e.contains("\"z\""), "{e}");
        let e = read_libsvm("1 3:1\n", Some(2)).unwrap_err().to_string();
        assert!(e.contains("beyond the 2 features"), "{e}");
        let wide = format!("1 {}:1\n", MAX_FEATURES);
        let many: String = std::iter::repeat_n(wide.as_str(), 300).collect();
        let e = read_libsvm(&many, None).unwrap_err().to_string();
        assert!(e.contains("too large a dense table"), "{e}");
    }
}
