//! Numeric CSV tables with a header row and one target column.

use std::io::Read;

use crate::{DatasetError, Result};

/// A numeric table with one target column.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The names of the feature columns, in file order, without the target.
    pub feature_names: Vec<String>,
    /// The number of data rows.
    pub n_rows: usize,
    /// The number of feature columns.
    pub n_cols: usize,
    /// `n_rows * n_cols` feature values, row-major.
    pub features: Vec<f32>,
    /// One target value per row.
    pub targets: Vec<f32>,
}

/// Builds a [`DatasetError::Csv`] for a 1-based line.
fn csv_err(line: u64, reason: impl Into<String>) -> DatasetError {
    DatasetError::Csv {
        line,
        reason: reason.into(),
    }
}

/// Converts an error of the `csv` crate, keeping its line number when it has one.
fn from_csv(e: &csv::Error, fallback_line: u64) -> DatasetError {
    let line = e.position().map_or(fallback_line, csv::Position::line);
    let reason = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("row has {len} fields but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
        _ => e.to_string(),
    };
    csv_err(line, reason)
}

/// The first columns of `headers`, comma-separated, for a message: all of them when there are
/// at most 10, else the first 8 and how many more there are (a 65-column table would bury the
/// message).
pub fn few_columns(headers: &[String]) -> String {
    if headers.len() <= 10 {
        return headers.join(", ");
    }
    format!(
        "{}, ... ({} columns in all)",
        headers[..8].join(", "),
        headers.len()
    )
}

/// Parses one cell as a finite `f32`, naming the column on failure.
fn parse_cell(cell: &str, column: &str, line: u64) -> Result<f32> {
    let text = cell.trim();
    if text.is_empty() {
        return Err(csv_err(
            line,
            format!("column {column:?}: the cell is empty, not a number"),
        ));
    }
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(csv_err(
            line,
            format!("column {column:?}: {text:?} is not a finite number"),
        )),
        Err(_) => Err(csv_err(
            line,
            format!("column {column:?}: cannot parse {text:?} as a number"),
        )),
    }
}

/// Reads a CSV table with a header row; every cell must be a number.
///
/// `target_column` names the column that becomes [`Table::targets`]; all other
/// columns become features. A missing column gives [`DatasetError::MissingColumn`]
/// listing the first columns ([`few_columns`]), a bad cell [`DatasetError::Csv`] naming the
/// 1-based line of the file (the header is line 1) and the column.
pub fn read_table<R: Read>(reader: R, target_column: &str) -> Result<Table> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| from_csv(&e, 1))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(csv_err(1, "missing header row"));
    }
    let target = headers
        .iter()
        .position(|h| h == target_column)
        .ok_or_else(|| DatasetError::MissingColumn {
            column: target_column.to_string(),
            available: few_columns(&headers),
        })?;
    let feature_names: Vec<String> = headers
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != target)
        .map(|(_, h)| h.clone())
        .collect();
    let n_cols = feature_names.len();
    let mut features = Vec::new();
    let mut targets = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut last_line = 1;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(from_csv(&e, last_line + 1)),
        }
        let line = record.position().map_or(last_line + 1, csv::Position::line);
        last_line = line;
        for (i, cell) in record.iter().enumerate() {
            let value = parse_cell(cell, &headers[i], line)?;
            if i == target {
                targets.push(value);
            } else {
                features.push(value);
            }
        }
    }
    Ok(Table {
        feature_names,
        n_rows: targets.len(),
        n_cols,
        features,
        targets,
    })
}

impl Table {
    /// The targets as class labels; each must be an integer in 0..=255.
    pub fn class_labels(&self) -> Result<Vec<u8>> {
        self.targets
            .iter()
            .enumerate()
            .map(|(row, &value)| {
                if value.fract() == 0.0 && (0.0..=255.0).contains(&value) {
                    Ok(value as u8)
                } else {
                    Err(DatasetError::BadTarget { row, value })
                }
            })
            .collect()
    }

    /// The features of row `i`; panics if `i >= n_rows`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_cols..(i + 1) * self.n_cols]
    }

    /// The index of the feature column called `name`, if any.
    pub fn feature_index(&self, name: &str) -> Option<usize> {
        self.feature_names.iter().position(|n| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_table() {
        let t = read_table("a,y,b\n1,0,2\n3, 1 ,4.5\n".as_bytes(), "y").unwrap();
        assert_eq!(t.feature_names, vec!["a", "b"]);
        assert_eq!((t.n_rows, t.n_cols), (2, 2));
        assert_eq!(t.features, vec![1.0, 2.0, 3.0, 4.5]);
        assert_eq!(t.row(1), &[3.0, 4.5]);
        assert_eq!(t.class_labels().unwrap(), vec![0, 1]);
        assert_eq!(t.feature_index("b"), Some(1));
    }

    #[test]
    fn errors() {
        let e = read_table("a,y\n1,2\n3\n".as_bytes(), "y").unwrap_err();
        assert!(matches!(e, DatasetError::Csv { line: 3, .. }), "{e}");
        let e = read_table("a,y\n1,nan\n".as_bytes(), "y").unwrap_err();
        assert!(matches!(e, DatasetError::Csv { line: 2, .. }), "{e}");
        let e = read_table("".as_bytes(), "y").unwrap_err();
        assert!(matches!(e, DatasetError::Csv { line: 1, .. }), "{e}");
        let t = read_table("a,y\n1,2.5\n".as_bytes(), "y").unwrap();
        assert!(matches!(
            t.class_labels(),
            Err(DatasetError::BadTarget { row: 0, .. })
        ));
        let t = read_table("a,y\n1,-1\n".as_bytes(), "y").unwrap();
        assert!(t.class_labels().is_err());
    }

    /// A cell that is not a number names the file's line and the column by name.
    #[test]
    fn a_bad_cell_names_its_line_and_column() {
        let csv = "a,b,y\n1,2,0\n3,x,1\n";
        let e = read_table(csv.as_bytes(), "y").unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("column \"b\"") && e.contains("\"x\""),
            "{e}"
        );
        // The target column too, an empty cell, and a quoted cell spanning lines (the line is
        // where its record starts).
        let e = read_table("a,y\n1,0\n2,one\n".as_bytes(), "y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("column \"y\""), "{e}");
        let e = read_table("a,y\n1,0\n,1\n".as_bytes(), "y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 3") && e.contains("empty"), "{e}");
        let e = read_table("a,y\n\"1\n2\",0\n5,z\n".as_bytes(), "y")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("column \"a\""), "{e}");
    }

    /// A missing target column is named, with the first few columns of the table.
    #[test]
    fn a_missing_target_names_it_and_a_few_columns() {
        let e = read_table("a,b,y\n1,2,0\n".as_bytes(), "target")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"target\"") && e.contains("a, b, y"), "{e}");
        let wide: Vec<String> = (0..64).map(|i| format!("p{i}")).collect();
        let csv = format!("{},label\n", wide.join(","));
        let e = read_table(csv.as_bytes(), "target")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p0, p1") && e.contains("65 columns in all") && !e.contains("p40"),
            "{e}"
        );
    }
}
