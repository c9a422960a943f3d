//! `faasml data`: import datasets into a store and list the bundled ones.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use faasml_datasets::bundled::{self, Split};
use faasml_workflows::data::images::{self, ImportFormat};
use indicatif::{ProgressBar, ProgressDrawTarget};

/// `faasml data` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {
    /// Import a dataset into a store: one PNG object per image (the seed's image-bucket layout,
    /// `<prefix>/<class>/<index>.png`) or one IDX pair.
    Import(ImportArgs),
    /// List the bundled datasets and where their files are found.
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
    /// any name for the IDX files in DIR.
    dataset: String,
    /// Directory with the dataset's IDX files (MNIST, Fashion-MNIST or EMNIST naming, gzipped or
    /// not); default: the bundled copy.
    dir: Option<PathBuf>,
    /// Destination store URL, prefix included, e.g. file://./store/images/mnist-2k.
    #[arg(long)]
    to: String,
    /// Layout to write.
    #[arg(long, value_enum, default_value = "png")]
    format: Format,
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
        DataCommand::Import(args) => import(args).await,
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
    let (format, objects) = match args.format {
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
        match args.format {
            Format::Png => "PNG",
            Format::Idx => "IDX",
        },
        args.to,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
