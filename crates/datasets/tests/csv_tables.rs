//! Reading the bundled CSV tables and reporting malformed ones.

use faasml_datasets::DatasetError;
use faasml_datasets::bundled::data_dir;
use faasml_datasets::csv_table::read_table;

fn open(name: &str) -> std::fs::File {
    std::fs::File::open(data_dir().join("tabular").join(name)).unwrap()
}

#[test]
fn iris() {
    let t = read_table(open("iris.csv"), "target").unwrap();
    assert_eq!((t.n_rows, t.n_cols), (150, 4));
    assert_eq!(
        t.feature_names,
        vec!["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    assert_eq!(t.features.len(), 600);
    assert_eq!(t.row(0), &[5.1, 3.5, 1.4, 0.2]);
    let labels = t.class_labels().unwrap();
    for class in 0..3u8 {
        assert_eq!(labels.iter().filter(|&&l| l == class).count(), 50);
    }
}

#[test]
fn other_bundled_tables() {
    for (file, rows, cols, classes) in [
        ("wine.csv", 178, 13, 3),
        ("breast_cancer.csv", 569, 30, 2),
        ("digits8x8.csv", 1797, 64, 10),
    ] {
        let t = read_table(open(file), "target").unwrap();
        assert_eq!((t.n_rows, t.n_cols), (rows, cols), "{file}");
        let labels = t.class_labels().unwrap();
        assert_eq!(usize::from(*labels.iter().max().unwrap()) + 1, classes);
    }
}

#[test]
fn bad_cell_names_line_and_column() {
    let data = "a,b,target\n1,2,0\n3,oops,1\n";
    let e = read_table(data.as_bytes(), "target").unwrap_err();
    match &e {
        DatasetError::Csv { line, reason } => {
            assert_eq!(*line, 3);
            assert!(
                reason.contains("\"b\"") && reason.contains("oops"),
                "{reason}"
            );
        }
        other => panic!("unexpected {other}"),
    }
    // A bad target cell is reported the same way.
    let e = read_table("a,target\n1,x\n".as_bytes(), "target").unwrap_err();
    assert!(e.to_string().contains("target"), "{e}");
    // Empty cells and ragged rows.
    assert!(matches!(
        read_table("a,target\n,1\n".as_bytes(), "target"),
        Err(DatasetError::Csv { line: 2, .. })
    ));
    assert!(matches!(
        read_table("a,target\n1,2,3\n".as_bytes(), "target"),
        Err(DatasetError::Csv { line: 2, .. })
    ));
}

#[test]
fn missing_target_column_lists_columns() {
    let e = read_table(open("iris.csv"), "species").unwrap_err();
    match &e {
        DatasetError::MissingColumn { column, available } => {
            assert_eq!(column, "species");
            assert!(available.contains("sepal_length") && available.contains("target"));
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn header_only_table_is_empty() {
    let t = read_table("x,y,target\n".as_bytes(), "target").unwrap();
    assert_eq!((t.n_rows, t.n_cols), (0, 2));
    assert!(t.class_labels().unwrap().is_empty());
}
