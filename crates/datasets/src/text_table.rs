//! Labelled text in CSV: one column of free text and one of labels (a sentiment CSV, say).
//! Quoting, embedded commas and newlines follow RFC 4180, as the `csv` crate reads them.

use std::io::Read;

use crate::{DatasetError, Result};

/// Texts with a numeric label each.
#[derive(Debug, Clone, PartialEq)]
pub struct TextTable {
    /// The texts, in file order.
    pub texts: Vec<String>,
    /// One label per text.
    pub labels: Vec<f32>,
}

/// Reads the `text_column` and `label_column` of a CSV with a header row; other columns are
/// ignored. A missing column is [`DatasetError::MissingColumn`], a label that is not a finite
/// number [`DatasetError::Csv`] naming the line.
pub fn read_text_table<R: Read>(
    reader: R,
    text_column: &str,
    label_column: &str,
) -> Result<TextTable> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(reader);
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| DatasetError::Csv {
            line: 1,
            reason: e.to_string(),
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| DatasetError::MissingColumn {
                column: name.to_string(),
                available: crate::csv_table::few_columns(&headers),
            })
    };
    let (text, label) = (find(text_column)?, find(label_column)?);
    let mut table = TextTable {
        texts: Vec::new(),
        labels: Vec::new(),
    };
    for record in rdr.records() {
        let record = record.map_err(|e| DatasetError::Csv {
            line: e.position().map_or(0, csv::Position::line),
            reason: e.to_string(),
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let value = record.get(label).unwrap_or("").trim();
        let parsed: f32 = value
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| DatasetError::Csv {
                line,
                reason: format!("column {label_column:?}: {value:?} is not a finite number"),
            })?;
        table.texts.push(record.get(text).unwrap_or("").to_string());
        table.labels.push(parsed);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_text_and_labels() {
        let csv = "text,label,score\n\"Hello, world\",1,0.5\n\"two\nlines\",0,1\n";
        let t = read_text_table(csv.as_bytes(), "text", "label").unwrap();
        assert_eq!(t.texts, ["Hello, world", "two\nlines"]);
        assert_eq!(t.labels, [1.0, 0.0]);
    }

    #[test]
    fn missing_columns_and_bad_labels_are_errors() {
        let e = read_text_table("a,b\nx,1\n".as_bytes(), "text", "b").unwrap_err();
        assert!(e.to_string().contains("no column named \"text\""), "{e}");
        let e = read_text_table("text,label\nx,yes\n".as_bytes(), "text", "label").unwrap_err();
        assert!(
            e.to_string().contains("line 2") && e.to_string().contains("\"yes\""),
            "{e}"
        );
    }
}
