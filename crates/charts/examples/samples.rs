//! Renders sample charts, as SVG and PNG, into the directory given as the first argument (by
//! default `charts-samples`): the box plot of the repository's dated training benchmark, a
//! grouped box plot of made-up billed durations on a log scale, and a line chart.
//!
//! `cargo run -p faasml-charts --example samples -- /tmp/charts-samples`

use std::error::Error;
use std::path::PathBuf;

use faasml_charts::{BoxPlot, HLine, LineChart, Scale, Series, Titles};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or("charts-samples".into()));
    std::fs::create_dir_all(&dir)?;
    let csv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../bench/results/ml-training-2026-11.csv"
    );
    let mut reader = csv::Reader::from_path(csv)?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (dataset, total) = (
        column("dataset").ok_or("no dataset column")?,
        column("total_s").ok_or("no total_s column")?,
    );
    let mut training = BoxPlot::new(Titles {
        title: "ML training workflow: end-to-end time per dataset",
        x_label: "dataset",
        y_label: "total (s)",
    })
    .mean(true);
    for row in reader.records() {
        let row = row?;
        let value = row.get(total).unwrap_or("").parse().unwrap_or(f64::NAN);
        training.push(row.get(dataset).unwrap_or(""), value);
    }
    report(training.write_both(&dir.join("ml-training-total"))?);

    // A made-up inference benchmark: cold starts pay for loading the model, more so with less
    // memory (and so less CPU).
    let mut billed = BoxPlot::new(Titles {
        title: "Inference: billed duration by memory size",
        x_label: "memory (MB)",
        y_label: "billed duration (ms)",
    })
    .hues(["cold", "warm"])
    .scale(Scale::Log)
    .mean(true);
    let mut state = 42u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for memory in [128.0, 256.0, 512.0, 1024.0, 2048.0, 3008.0] {
        let speed = (1769.0f64 / memory).max(1.0);
        for _ in 0..40 {
            let cold = (350.0 + 900.0 * noise()) * speed;
            let warm = (12.0 + 6.0 * noise() + 40.0 * noise().powi(12)) * speed;
            billed.push_hued(&memory.to_string(), "cold", cold.ceil());
            billed.push_hued(&memory.to_string(), "warm", warm.ceil());
        }
    }
    report(billed.write_both(&dir.join("inference-billed"))?);

    let series: Vec<Series> = (0..12)
        .map(|i| {
            let points = (0..=20)
                .map(|k| {
                    let t = f64::from(k) * 0.5;
                    (t, 0.95 - 0.85 * (-t / (1.0 + f64::from(i) * 0.4)).exp())
                })
                .collect();
            Series::new(format!("{} workers", i + 1), points)
        })
        .collect();
    let target = HLine {
        y: 0.9,
        label: "target 0.9",
    };
    let accuracy = LineChart::new(
        Titles {
            title: "Downpour SGD: test accuracy over time",
            x_label: "seconds since initialisation",
            y_label: "test accuracy",
        },
        &series,
    )
    .hline(Some(target));
    report(accuracy.write_both(&dir.join("downpour-accuracy"))?);
    Ok(())
}

fn report(paths: [PathBuf; 2]) {
    for path in paths {
        println!("{}", path.display());
    }
}
