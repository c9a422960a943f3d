//! linfa 0.8.1 vs scikit-learn benchmark (faasml design decision).
//! Subcommands:
//!   correct <out.json>                         fit on standardised diabetes / breast_cancer, dump coefs
//!   speed <model> <S> <fit|oof> <reps> [knn_algo] [oof_out.bin]
//! models: lasso | svr | knn | logistic ; knn_algo: linear | kdtree | balltree
use linfa::prelude::*;
use linfa::Dataset;
use linfa_elasticnet::ElasticNet;
use linfa_logistic::LogisticRegression;
use linfa_nn::{distance::L2Dist, CommonNearestNeighbour, NearestNeighbour};
use linfa_svm::Svm;
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DATA: &str = "../../data/tabular";
const ABANDON_S: u64 = 300;

fn read_csv(path: &str) -> (Array2<f64>, Array1<f64>) {
    let txt = std::fs::read_to_string(path).unwrap();
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for line in txt.lines().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        rows.push(line.split(',').map(|v| v.trim().parse::<f64>().unwrap()).collect());
    }
    let n = rows.len();
    let p = rows[0].len() - 1;
    let mut x = Array2::zeros((n, p));
    let mut y = Array1::zeros(n);
    for (i, r) in rows.iter().enumerate() {
        for j in 0..p {
            x[[i, j]] = r[j];
        }
        y[i] = r[p];
    }
    (x, y)
}

/// z-score with population std
fn standardise(x: &mut Array2<f64>) {
    for mut col in x.columns_mut() {
        let m = col.mean().unwrap();
        let sd = (col.mapv(|v| (v - m) * (v - m)).mean().unwrap()).sqrt();
        col.mapv_inplace(|v| (v - m) / sd);
    }
}

fn read_bin(path: &str) -> Vec<f64> {
    let mut b = Vec::new();
    std::fs::File::open(path).unwrap().read_to_end(&mut b).unwrap();
    b.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
}

fn write_bin(path: &str, v: &[f64]) {
    let mut f = std::fs::File::create(path).unwrap();
    for x in v {
        f.write_all(&x.to_le_bytes()).unwrap();
    }
}

// ---------------- model wrappers: fit on (x,y), predict on xt ----------------

/// Lasso via linfa-elasticnet. linfa only centres y (not X) for the intercept, so we centre X
/// ourselves (as sklearn does) and fold the shift into the intercept. penalty = alpha (same
/// 1/(2n) scaling as sklearn, see RESULTS.md).
fn lasso_fit(x: ArrayView2<f64>, y: ArrayView1<f64>, alpha: f64) -> (Array1<f64>, f64) {
    lasso_fit_tol(x, y, alpha, 1e-4)
}

fn lasso_fit_tol(x: ArrayView2<f64>, y: ArrayView1<f64>, alpha: f64, tol: f64) -> (Array1<f64>, f64) {
    let xm = x.mean_axis(Axis(0)).unwrap();
    let xc = &x - &xm;
    let ds = Dataset::new(xc, y.to_owned());
    let m = ElasticNet::params()
        .penalty(alpha)
        .l1_ratio(1.0)
        .tolerance(tol)
        .max_iterations(if tol < 1e-6 { 100000 } else { 1000 })
        .fit(&ds)
        .unwrap();
    let w = m.hyperplane().clone();
    let b = m.intercept() - xm.dot(&w);
    (w, b)
}

fn svr_params() -> linfa_svm::SvmParams<f64, f64> {
    // closest to LinearSVR(C=1, epsilon=0, tol=1e-6): epsilon-SVR, linear kernel, SMO
    // loss eps must be > 0 in linfa (InvalidC), so 1e-10 stands in for 0
    Svm::<f64, f64>::params().c_svr(1.0, Some(1e-10)).linear_kernel().eps(1e-6)
}

/// returns (w, b) recovered from predictions (hyperplane field is private)
fn svr_fit(x: ArrayView2<f64>, y: ArrayView1<f64>) -> (Array1<f64>, f64) {
    let ds = Dataset::new(x.to_owned(), y.to_owned());
    let m = svr_params().fit(&ds).unwrap();
    let p = x.ncols();
    let b = m.predict(Array1::<f64>::zeros(p));
    let mut w = Array1::zeros(p);
    for j in 0..p {
        let mut e = Array1::<f64>::zeros(p);
        e[j] = 1.0;
        w[j] = m.predict(e) - b;
    }
    (w, b)
}

fn svr_fit_predict(x: ArrayView2<f64>, y: ArrayView1<f64>, xt: ArrayView2<f64>) -> Array1<f64> {
    let ds = Dataset::new(x.to_owned(), y.to_owned());
    let m = svr_params().fit(&ds).unwrap();
    m.predict(&xt.to_owned())
}

fn knn_algo(name: &str) -> CommonNearestNeighbour {
    match name {
        "linear" => CommonNearestNeighbour::LinearSearch,
        "kdtree" => CommonNearestNeighbour::KdTree,
        "balltree" => CommonNearestNeighbour::BallTree,
        _ => panic!("knn algo"),
    }
}

fn knn_fit_predict(x: ArrayView2<f64>, y: ArrayView1<f64>, xt: ArrayView2<f64>, k: usize, algo: &str) -> Array1<f64> {
    let idx = knn_algo(algo).from_batch(&x, L2Dist).unwrap();
    let mut out = Array1::zeros(xt.nrows());
    for (i, row) in xt.outer_iter().enumerate() {
        let nb = idx.k_nearest(row, k).unwrap();
        out[i] = nb.iter().map(|(_, j)| y[*j]).sum::<f64>() / nb.len() as f64;
    }
    out
}

/// logistic: targets 0/1 as usize; alpha = 1/C. Returns (w, b) for P(y=1) (linfa's positive
/// class is the majority class, so flip sign when that is 0).
fn logistic_fit(x: ArrayView2<f64>, y: ArrayView1<f64>, c: f64) -> (Array1<f64>, f64) {
    let yl: Array1<usize> = y.mapv(|v| v as usize);
    let ds = Dataset::new(x.to_owned(), yl);
    let m = LogisticRegression::default()
        .alpha(1.0 / c)
        .max_iterations(100)
        .gradient_tolerance(1e-4)
        .fit(&ds)
        .unwrap();
    let sgn = if m.labels().pos.class == 1 { 1.0 } else { -1.0 };
    (m.params().mapv(|v| v * sgn), m.intercept() * sgn)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn fit_predict(model: &str, algo: &str, x: ArrayView2<f64>, y: ArrayView1<f64>, xt: ArrayView2<f64>) -> Array1<f64> {
    match model {
        "lasso" => {
            let (w, b) = lasso_fit(x, y, 0.1);
            xt.dot(&w) + b
        }
        "svr" => svr_fit_predict(x, y, xt),
        "knn" => knn_fit_predict(x, y, xt, 20, algo),
        "logistic" => {
            let (w, b) = logistic_fit(x, y, 1.0);
            (xt.dot(&w) + b).mapv(sigmoid)
        }
        _ => panic!("model"),
    }
}

/// "one fit on all rows": for kNN this is building the index only.
fn fit_only(model: &str, algo: &str, x: ArrayView2<f64>, y: ArrayView1<f64>) -> f64 {
    match model {
        "lasso" => lasso_fit(x, y, 0.1).1,
        "svr" => {
            let ds = Dataset::new(x.to_owned(), y.to_owned());
            svr_params().fit(&ds).unwrap().rho
        }
        "knn" => {
            let idx = knn_algo(algo).from_batch(&x, L2Dist).unwrap();
            idx.k_nearest(x.row(0), 1).unwrap().len() as f64
        }
        "logistic" => logistic_fit(x, y, 1.0).1,
        _ => panic!("model"),
    }
}

/// KFold(5) unshuffled as sklearn: first n % 5 folds get one extra row
fn folds(n: usize) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut start = 0;
    for f in 0..5 {
        let sz = n / 5 + if f < n % 5 { 1 } else { 0 };
        v.push((start, start + sz));
        start += sz;
    }
    v
}

fn oof(model: &str, algo: &str, x: ArrayView2<f64>, y: ArrayView1<f64>, watch: &Arc<AtomicU64>, t0: Instant) -> Array1<f64> {
    let n = x.nrows();
    let mut out = Array1::zeros(n);
    for (a, b) in folds(n) {
        let tr: Vec<usize> = (0..a).chain(b..n).collect();
        let xtr = x.select(Axis(0), &tr);
        let ytr = y.select(Axis(0), &tr);
        watch.store(t0.elapsed().as_millis() as u64, Ordering::SeqCst);
        let p = fit_predict(model, algo, xtr.view(), ytr.view(), x.slice(s![a..b, ..]));
        out.slice_mut(s![a..b]).assign(&p);
    }
    out
}

fn median(v: &mut Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn speed(args: &[String]) {
    let model = args[0].as_str();
    let s: usize = args[1].parse().unwrap();
    let mode = args[2].as_str();
    let reps: usize = args[3].parse().unwrap();
    let algo = args.get(4).map(|s| s.as_str()).unwrap_or("linear");
    let oof_out = args.get(5);
    let p = 1024;
    let xv = read_bin(&format!("data/X_{s}.bin"));
    let yv = read_bin(&format!("data/y_{s}.bin"));
    let x = Array2::from_shape_vec((s, p), xv).unwrap();
    let y = Array1::from(yv);

    // watchdog: abandon any single fit exceeding ABANDON_S
    let t0 = Instant::now();
    let watch = Arc::new(AtomicU64::new(0));
    {
        let watch = watch.clone();
        let tag = format!("{model} {algo} S={s} {mode}");
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let started = watch.load(Ordering::SeqCst);
            if started != u64::MAX && t0.elapsed().as_millis() as u64 - started > ABANDON_S * 1000 {
                println!("RESULT linfa {tag} ABANDONED single fit > {ABANDON_S} s");
                std::process::exit(3);
            }
        });
    }
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let st = Instant::now();
        watch.store(t0.elapsed().as_millis() as u64, Ordering::SeqCst);
        if mode == "fit" {
            std::hint::black_box(fit_only(model, algo, x.view(), y.view()));
        } else {
            last = Some(oof(model, algo, x.view(), y.view(), &watch, t0));
        }
        watch.store(u64::MAX, Ordering::SeqCst);
        let dt = st.elapsed().as_secs_f64();
        eprintln!("  run {model} {algo} S={s} {mode}: {dt:.4} s");
        times.push(dt);
        if dt > 60.0 {
            break; // single run > 60 s: report one run
        }
    }
    let n = times.len();
    let med = median(&mut times);
    println!("RESULT linfa {model} {algo} S={s} {mode} median_s={med:.5} runs={n}");
    if let (Some(o), Some(path)) = (last, oof_out) {
        write_bin(path, o.as_slice().unwrap());
    }
}

fn correct(out: &str) {
    let mut js = String::from("{\n");
    // diabetes
    let (mut x, y) = read_csv(&format!("{DATA}/diabetes.csv"));
    standardise(&mut x);
    let (w, b) = lasso_fit(x.view(), y.view(), 0.1);
    js += &format!("\"lasso_diabetes_std\": {{\"coef\": {:?}, \"intercept\": {b}}},\n", w.to_vec());
    let (w, b) = lasso_fit_tol(x.view(), y.view(), 0.1, 1e-10);
    js += &format!("\"lasso_diabetes_std_tol1e-10\": {{\"coef\": {:?}, \"intercept\": {b}}},\n", w.to_vec());
    let t = Instant::now();
    let (w, b) = svr_fit(x.view(), y.view());
    eprintln!("svr diabetes fit {:.3}s", t.elapsed().as_secs_f64());
    js += &format!("\"linear_svr_diabetes_std\": {{\"coef\": {:?}, \"intercept\": {b}}},\n", w.to_vec());
    for algo in ["linear", "kdtree", "balltree"] {
        let p = knn_fit_predict(x.view(), y.view(), x.slice(s![0..5, ..]), 20, algo);
        js += &format!("\"knn_regressor_diabetes_std_{algo}\": {{\"predict_first5\": {:?}}},\n", p.to_vec());
    }
    // breast cancer
    let (mut x, y) = read_csv(&format!("{DATA}/breast_cancer.csv"));
    standardise(&mut x);
    let (w, b) = logistic_fit(x.view(), y.view(), 1.0);
    js += &format!("\"logistic_breast_cancer_std\": {{\"coef\": {:?}, \"intercept\": {b}}}\n}}\n", w.to_vec());
    std::fs::write(out, js).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args[1].as_str() {
        "correct" => correct(&args[2]),
        "speed" => speed(&args[2..]),
        _ => panic!("usage"),
    }
}
