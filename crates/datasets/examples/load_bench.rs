//! Times loading the bundled datasets: `cargo run --release -p faasml-datasets --example load_bench`.

use std::time::Instant;

use faasml_datasets::bundled;

fn main() -> Result<(), faasml_datasets::DatasetError> {
    for name in ["mnist", "mnist-2k", "mnist-test", "fashion-mnist"] {
        let mut best = f64::INFINITY;
        let mut len = 0;
        for _ in 0..5 {
            let start = Instant::now();
            let set = bundled::load(name)?;
            best = best.min(start.elapsed().as_secs_f64());
            len = set.len();
        }
        println!(
            "{name:>14}: {len:>6} images, best of 5: {:.1} ms",
            best * 1e3
        );
    }
    Ok(())
}
