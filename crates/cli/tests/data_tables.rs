//! `faasml data import csv|libsvm` end to end: a table checked whole before anything is written,
//! then uploaded unchanged; and `faasml data list` naming the bundled tables.

use std::path::Path;
use std::process::{Command, Output};

fn faasml(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir)
        .args(args)
        .env_remove("FAASML_STORE")
        .output()
        .expect("faasml runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_csv_and_a_libsvm_table_upload_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let csv = "a,b,target\n1,2.5,0\n3,4,1\n5,6,1\n";
    std::fs::write(dir.path().join("mine.csv"), csv).unwrap();
    let out = faasml(
        dir.path(),
        &[
            "data",
            "import",
            "csv",
            "mine.csv",
            "--target",
            "target",
            "--to",
            "file://./store/tabular/mine",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("3 rows x 2 features")
            && stdout.contains("file://./store/tabular/mine/mine.csv"),
        "{stdout}"
    );
    let stored = std::fs::read_to_string(dir.path().join("store/tabular/mine/mine.csv")).unwrap();
    assert_eq!(stored, csv);

    std::fs::write(dir.path().join("rows.libsvm"), "1 1:0.5 3:2\n0 2:1\n").unwrap();
    let out = faasml(
        dir.path(),
        &[
            "data",
            "import",
            "libsvm",
            "rows.libsvm",
            "--to",
            "file://./store/s",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 rows x 3 features"));
    assert!(dir.path().join("store/s/rows.libsvm").exists());

    // The image form still works beside the reserved words.
    let out = faasml(
        dir.path(),
        &[
            "data",
            "import",
            "mnist-2k",
            "--to",
            "file://./store/images/few",
            "--limit",
            "3",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 3 images"));

    let out = faasml(dir.path(), &["data", "list"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("tabular/breast_cancer") && stdout.contains("mnist-2k"),
        "{stdout}"
    );
    let out = faasml(dir.path(), &["data", "import", "--help"]);
    assert!(text(&out.stdout).contains("data import csv FILE --target COLUMN"));
}

/// Each bad table exits non-zero with one message naming the problem, and writes nothing.
#[test]
fn bad_tables_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &[&str], &str)] = &[
        (
            "cell.csv",
            "a,b,target\n1,2,0\n3,x,1\n",
            &["--target", "target"],
            "line 3: column \"b\": cannot parse \"x\"",
        ),
        (
            "missing.csv",
            "a,b,y\n1,2,0\n",
            &["--target", "target"],
            "no column named \"target\"; the columns are: a, b, y",
        ),
        (
            "constant.csv",
            "a,target\n1,1\n2,1\n",
            &["--target", "target"],
            "the target column 'target' holds the same value (1) in all 2 rows",
        ),
        (
            "empty.csv",
            "a,target\n",
            &["--target", "target"],
            "no data rows",
        ),
        (
            "untargeted.csv",
            "a,target\n1,0\n",
            &[],
            "needs its target column named",
        ),
        (
            "table.tsv",
            "a,target\n1,0\n",
            &["--target", "target"],
            "*.csv",
        ),
    ];
    for (file, body, extra, message) in cases {
        std::fs::write(dir.path().join(file), body).unwrap();
        let mut args = vec!["data", "import", "csv", file, "--to", "file://./store/t"];
        args.extend_from_slice(extra);
        let out = faasml(dir.path(), &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
        assert!(stderr.contains(message), "{file}: {stderr}");
    }
    std::fs::write(dir.path().join("bad.txt"), "1 1:1\n\n0 2:oops\n").unwrap();
    let out = faasml(
        dir.path(),
        &[
            "data",
            "import",
            "libsvm",
            "bad.txt",
            "--to",
            "file://./store/t",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("libsvm line 3: value \"oops\""),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("store").exists(), "nothing is written");
}
