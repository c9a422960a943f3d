//! Shared helpers for integration tests: a tiny CSV reader for data/tabular.

#![allow(dead_code)]

use faasml_ml::Matrix;

/// Reads `data/tabular/<name>`: a header row, numeric columns, last column `target`.
pub(crate) fn load(name: &str) -> (Matrix, Vec<u8>, usize) {
    let path = format!("{}/../../data/tabular/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("header row");
    let cols = header.split(',').count() - 1;
    let mut data = Vec::new();
    let mut y = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), cols + 1, "bad row: {line}");
        for f in &fields[..cols] {
            data.push(f.trim().parse::<f32>().expect("numeric feature"));
        }
        y.push(fields[cols].trim().parse::<f64>().expect("numeric target") as u8);
    }
    let rows = y.len();
    let n_classes = *y.iter().max().expect("rows") as usize + 1;
    (Matrix::new(rows, cols, data).expect("shape"), y, n_classes)
}

/// Reads `data/tabular/<name>`: a header row, numeric columns, last column a
/// real-valued target.
pub(crate) fn load_regression(name: &str) -> (Matrix, Vec<f32>) {
    let path = format!("{}/../../data/tabular/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("header row");
    let cols = header.split(',').count() - 1;
    let mut data = Vec::new();
    let mut y = Vec::new();
    for line in lines {
        let fields: Vec<f32> = line
            .split(',')
            .map(|f| f.trim().parse::<f32>().expect("numeric field"))
            .collect();
        assert_eq!(fields.len(), cols + 1, "bad row: {line}");
        data.extend_from_slice(&fields[..cols]);
        y.push(fields[cols]);
    }
    (Matrix::new(y.len(), cols, data).expect("shape"), y)
}

/// Deterministic shuffled split of `0..n` into (train, test) row indices,
/// the same permutation as [`split`] (xorshift64 Fisher-Yates).
pub(crate) fn split_rows(n: usize, test_frac: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        idx.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let n_test = (n as f64 * test_frac).round() as usize;
    let test = idx[..n_test].to_vec();
    (idx[n_test..].to_vec(), test)
}

/// Labels as `u32`, the type predictions and datasets use.
pub(crate) fn widen(y: &[u8]) -> Vec<u32> {
    y.iter().map(|&l| l as u32).collect()
}

/// Deterministic shuffled split into (train, test) by fraction `test_frac`.
pub(crate) fn split(
    x: &Matrix,
    y: &[u8],
    test_frac: f64,
    seed: u64,
) -> (Matrix, Vec<u8>, Matrix, Vec<u8>) {
    let n = x.rows();
    let mut idx: Vec<usize> = (0..n).collect();
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..n).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        idx.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let n_test = (n as f64 * test_frac).round() as usize;
    let take = |ids: &[usize]| {
        let mut d = Vec::with_capacity(ids.len() * x.cols());
        for &i in ids {
            d.extend_from_slice(x.row(i));
        }
        (
            Matrix::new(ids.len(), x.cols(), d).expect("shape"),
            ids.iter().map(|&i| y[i]).collect::<Vec<u8>>(),
        )
    };
    let (xte, yte) = take(&idx[..n_test]);
    let (xtr, ytr) = take(&idx[n_test..]);
    (xtr, ytr, xte, yte)
}
