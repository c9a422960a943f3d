//! `faasml data`: import datasets into a store and list the bundled ones.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use faasml_datasets::bundled::{self, Split};
use faasml_store::Store;
use faasml_workflows::images::{self, ImportFormat};
use indicatif::{ProgressBar, ProgressDrawTarget};

/// `faasml data` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DataCommand {
    /// Import a dataset into a store: one PNG object per image (the seed's image-bucket layout,
    /// `<prefix>/<class>/<index>.png`) or one IDX pair.
    Import(ImportArgs),
    /// List the bundled datasets.
    List,
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
        DataCommand::List => {
            println!("{:<22} {:>7}  description", "name", "images");
            for d in bundled::catalog() {
                let n = d.limit.map_or_else(
                    || match d.split {
                        Split::Train => "60000".to_string(),
                        Split::Test => "10000".to_string(),
                    },
                    |n| n.to_string(),
                );
                println!("{:<22} {:>7}  {}", d.name, n, d.description);
            }
            println!("\ndata directory: {}", bundled::data_dir().display());
            Ok(())
        }
        DataCommand::Import(args) => import(args).await,
    }
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
    let store = Store::open(&args.to).with_context(|| format!("cannot open {}", args.to))?;
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
