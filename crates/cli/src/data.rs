//! `faasml data`: import datasets into a store — image sets, and CSV or LIBSVM tables checked
//! row by row before anything is uploaded — and list the bundled ones.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use faasml_datasets::bundled::{self, Split};
use faasml_datasets::csv_table::Table;
use faasml_datasets::{csv_table, idx, libsvm};
use faasml_store::Path as Key;
use faasml_workflows::data::bundled::CORPORA_SEGMENT;
use faasml_workflows::data::images::{self, ImportFormat};
use faasml_workflows::data::tables;
use indicatif::{ProgressBar, ProgressDrawTarget};

/// `faasml data` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {
    /// Import a dataset into a store: an image set, or a CSV or LIBSVM table.
    ///
    /// Images: `faasml data import NAME [DIR] --to URL` writes one PNG object per image (the
    /// seed's image-bucket layout, `<prefix>/<class>/<index>.png`) or one IDX pair.
    ///
    /// Tables: `faasml data import csv FILE --target COLUMN --to URL` and
    /// `faasml data import libsvm FILE --to URL` read the whole file first and refuse it, writing
    /// nothing, when a cell is not a number (naming its line and column), the target column is
    /// missing or holds one value only, or there are no rows; then they upload the file's bytes
    /// unchanged (gzip allowed) to `URL/<file name>`. `csv` and `libsvm` are reserved first
    /// words: they are never the name of an image set.
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// List the bundled datasets (image sets and tables) and where their files are found.
    List,
    /// Copy the bundled datasets to the user data directory (~/.local/share/faasml/data, or
    /// $XDG_DATA_HOME/faasml/data), where an installed faasml finds them from any directory.
    Install(InstallArgs),
}

/// Options of `data install`.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// The data directory to copy from (default: the one faasml finds now, e.g. the clone's).
    #[arg(long)]
    from: Option<PathBuf>,
    /// Where to copy to (default: the user data directory).
    #[arg(long)]
    to: Option<PathBuf>,
}

/// The layout to write.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One PNG object per image.
    Png,
    /// One IDX images object and one IDX labels object.
    Idx,
}

/// Which split to read from a directory of IDX files.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum SplitArg {
    /// The training images.
    Train,
    /// The test images.
    Test,
}

/// Options of `data import`.
#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Dataset name: a bundled one (mnist, mnist-2k, mnist-10k, mnist-test, fashion-mnist, ...) or
    /// any name for the IDX files in DIR; or `csv` / `libsvm` to import the table FILE.
    dataset: String,
    /// Images: the directory with the dataset's IDX files (MNIST, Fashion-MNIST or EMNIST naming,
    /// gzipped or not; default: the bundled copy). Tables: the CSV or LIBSVM file (`.gz` allowed).
    #[arg(value_name = "DIR|FILE")]
    dir: Option<PathBuf>,
    /// Destination store URL, prefix included, e.g. file://./store/images/mnist-2k or
    /// file://./store/tabular/mine.
    #[arg(long)]
    to: String,
    /// The target column of a CSV table (`data import csv` only).
    #[arg(long, value_name = "COLUMN")]
    target: Option<String>,
    /// Layout to write, for images [default: png].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Import only the first N images.
    #[arg(long)]
    limit: Option<usize>,
    /// Split to read from DIR when the name does not say (default: train).
    #[arg(long, value_enum)]
    split: Option<SplitArg>,
    /// No progress display.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) async fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::List => list(),
        DataCommand::Import(args) => match args.dataset.as_str() {
            "csv" => import_table(args, TableFormat::Csv).await,
            "libsvm" => import_table(args, TableFormat::Libsvm).await,
            _ => import(args).await,
        },
        DataCommand::Install(args) => install(args),
    }
}

fn list() -> Result<()> {
    let mut out = String::new();
    out.push_str(&format!("{:<22} {:>7}  description\n", "name", "images"));
    for d in bundled::catalog() {
        let n = d.limit.map_or_else(
            || match d.split {
                Split::Train => "60000".to_string(),
                Split::Test => "10000".to_string(),
            },
            |n| n.to_string(),
        );
        out.push_str(&format!("{:<22} {:>7}  {}\n", d.name, n, d.description));
    }
    // Spark's LIBSVM samples have long names: the column is as wide as the longest.
    let width = bundled::tables()
        .iter()
        .map(|t| t.prefix().len())
        .max()
        .unwrap_or(0)
        .max(22);
    out.push_str(&format!(
        "\n{:<width$} {:>7} {:>8}  {:<8} description\n",
        "table (data prefix)", "rows", "features", "target"
    ));
    for t in bundled::tables() {
        out.push_str(&format!(
            "{:<width$} {:>7} {:>8}  {:<8} {}\n",
            t.prefix(),
            t.rows,
            t.features,
            t.target,
            t.description
        ));
    }
    out.push_str(&format!(
        "\n{:<22} {:>7} {:>8}  {:<8} description\n",
        "texts (data prefix)", "rows", "classes", "columns"
    ));
    for c in bundled::corpora() {
        out.push_str(&format!(
            "{:<22} {:>7} {:>8}  {:<8} {}\n",
            format!("{CORPORA_SEGMENT}/{}", c.name),
            c.rows,
            c.classes,
            "text,label",
            c.description
        ));
    }
    out.push_str(&format!(
        "\ndata directory: {}\n",
        bundled::data_dir().display()
    ));
    // A closed pipe (`faasml data list | head -1`) ends the listing, not the process.
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}

/// Copies the data directory's files (datasets, checksums, notes) to the user data directory.
fn install(args: InstallArgs) -> Result<()> {
    let from = args.from.unwrap_or_else(bundled::data_dir);
    if !from.join("mnist").is_dir() && !from.join("fashion-mnist").is_dir() {
        let looked: Vec<String> = bundled::data_dir_candidates()
            .iter()
            .map(|(dir, why)| format!("{} ({why})", dir.display()))
            .collect();
        bail!(
            "{} holds no bundled datasets; name the clone's data/ with --from (looked in: {})",
            from.display(),
            looked.join(", ")
        );
    }
    let Some(to) = args.to.or_else(bundled::user_data_dir) else {
        bail!("no user data directory ($HOME and $XDG_DATA_HOME are unset): give --to DIR");
    };
    let copied = copy_tree(&from, &to)?;
    println!(
        "copied {copied} files from {} to {}; faasml finds them there from any directory",
        from.display(),
        to.display()
    );
    Ok(())
}

/// Copies the files under `from` to `to` (each through a temporary name, so an interrupted copy
/// leaves no half file under its real name); returns how many.
fn copy_tree(from: &Path, to: &Path) -> Result<usize> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut copied = 0;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry.with_context(|| format!("cannot read {}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copied += copy_tree(&source, &target)?;
        } else {
            let partial = target.with_extension("partial");
            std::fs::copy(&source, &partial)
                .and_then(|_| std::fs::rename(&partial, &target))
                .with_context(|| {
                    format!("cannot copy {} to {}", source.display(), target.display())
                })?;
            copied += 1;
        }
    }
    Ok(copied)
}

async fn import(args: ImportArgs) -> Result<()> {
    if args.target.is_some() {
        bail!(
            "--target names the target column of a CSV table: `faasml data import csv FILE \
             --target COLUMN --to URL`; '{}' is an image set",
            args.dataset
        );
    }
    let known = bundled::lookup(&args.dataset).ok();
    let set = match &args.dir {
        None => {
            let dataset = bundled::lookup(&args.dataset)?;
            dataset
                .load()
                .with_context(|| format!("cannot load the bundled dataset '{}'", dataset.name))?
        }
        Some(dir) => {
            let split = match (args.split, known) {
                (Some(SplitArg::Test), _) => Split::Test,
                (Some(SplitArg::Train), _) => Split::Train,
                (None, Some(d)) => d.split,
                (None, None) => Split::Train,
            };
            let limit = args.limit.or(known.and_then(|d| d.limit));
            bundled::load_idx_dir(dir, split, limit)
                .with_context(|| format!("cannot read the IDX files in {}", dir.display()))?
        }
    };
    let set = match args.limit {
        Some(n) => set.take(n),
        None => set,
    };
    let store = crate::platform::open_store(&args.to, &[])?;
    let format_arg = args.format.unwrap_or(Format::Png);
    let (format, objects) = match format_arg {
        Format::Png => (ImportFormat::Png, set.len() as u64),
        Format::Idx => (ImportFormat::Idx, 2),
    };
    let target = if args.quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(objects), target);
    let started = std::time::Instant::now();
    let written = images::import(&store, "", &args.dataset, &set, format, &|n| {
        bar.set_position(n as u64)
    })
    .await
    .with_context(|| format!("import into {} failed", args.to))?;
    bar.finish_and_clear();
    println!(
        "imported {} images of '{}' as {written} {} objects into {} in {:.2} s",
        set.len(),
        args.dataset,
        match format_arg {
            Format::Png => "PNG",
            Format::Idx => "IDX",
        },
        args.to,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The table formats `data import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TableFormat {
    /// CSV with a header row and a target column.
    Csv,
    /// LIBSVM rows, the label first.
    Libsvm,
}

impl TableFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Libsvm => "libsvm",
        }
    }
}

/// `faasml data import csv|libsvm FILE --to URL`: reads and checks the whole table, then
/// uploads the file's bytes unchanged to `URL/<file name>`.
async fn import_table(args: ImportArgs, format: TableFormat) -> Result<()> {
    let word = format.name();
    let Some(file) = args.dir.as_deref() else {
        bail!("name the table to import: `faasml data import {word} FILE --to URL`");
    };
    for (given, option) in [
        (args.format.is_some(), "--format"),
        (args.limit.is_some(), "--limit"),
        (args.split.is_some(), "--split"),
    ] {
        if given {
            bail!("{option} applies to image sets, not to `data import {word}`");
        }
    }
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} does not name a file", file.display()))?;
    let named_right = match format {
        TableFormat::Csv => tables::is_csv_key(name),
        TableFormat::Libsvm => tables::is_libsvm_key(name),
    };
    if !named_right {
        bail!(
            "{}: the readers of the store find {word} tables by their name, {}: rename the file",
            file.display(),
            match format {
                TableFormat::Csv => "*.csv or *.csv.gz",
                TableFormat::Libsvm => "*.libsvm, *.svm or *.txt (gzipped or not)",
            }
        );
    }
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let table = check_table(&bytes, format, args.target.as_deref())
        .with_context(|| format!("{} cannot be imported", file.display()))?;
    let key = Key::parse(name)
        .ok()
        .filter(|k| k.as_ref() == name)
        .with_context(|| format!("'{name}' cannot be an object name in a store"))?;
    let store = crate::platform::open_store(&args.to, &[])?;
    store
        .put(&key, bytes)
        .await
        .with_context(|| format!("import into {} failed", args.to))?;
    let target = match &args.target {
        Some(column) => format!(", target '{column}'"),
        None => String::new(),
    };
    println!(
        "imported {} rows x {} features{target} from {} into {}/{name}",
        table.n_rows,
        table.n_cols,
        file.display(),
        args.to.trim_end_matches('/'),
    );
    Ok(())
}

/// Parses the whole table in `bytes` (gzip allowed) and checks that a workflow can learn from
/// it: every cell a number, the target column there, at least one row and one feature, and a
/// target that takes more than one value.
fn check_table(bytes: &[u8], format: TableFormat, target: Option<&str>) -> Result<Table> {
    let raw = idx::gunzip_if_needed(bytes)?;
    let (table, what) = match format {
        TableFormat::Csv => {
            let Some(target) = target else {
                bail!(
                    "a CSV table needs its target column named: `faasml data import csv FILE \
                     --target COLUMN --to URL`"
                );
            };
            (
                csv_table::read_table(&raw[..], target)?,
                format!("the target column '{target}'"),
            )
        }
        TableFormat::Libsvm => {
            if target.is_some() {
                bail!(
                    "--target names a CSV column; a LIBSVM line's label is its first field, so \
                     `data import libsvm` takes no --target"
                );
            }
            let text = std::str::from_utf8(&raw)
                .context("a LIBSVM file is text, and this one is not UTF-8")?;
            (libsvm::read_libsvm(text, None)?, "the label".to_string())
        }
    };
    if table.n_rows == 0 {
        bail!("the table is empty: it has no data rows");
    }
    if table.n_cols == 0 {
        bail!("the table has no feature columns, only {what}");
    }
    let first = table.targets[0];
    if table.targets.iter().all(|&t| t == first) {
        bail!(
            "{what} holds the same value ({first}) in all {} rows: there is nothing to learn",
            table.n_rows
        );
    }
    Ok(table)
}
