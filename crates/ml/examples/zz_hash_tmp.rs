use faasml_ml::Matrix;
use faasml_ml::forest::RandomForest;
struct Gen(u64);
impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}
fn main() {
    let (rows, cols, classes) = (7500usize, 50usize, 10usize);
    let mut g = Gen(7u64.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let centers: Vec<f32> = (0..classes * cols).map(|_| g.normal() * 0.6).collect();
    let mut data = Vec::new();
    let mut y = Vec::new();
    for _ in 0..rows {
        let c = (g.next() % classes as u64) as usize;
        y.push(c as u8);
        for f in 0..cols {
            data.push(centers[c * cols + f] + g.normal());
        }
    }
    let x = Matrix::new(rows, cols, data).unwrap();
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut best = f64::INFINITY;
    let mut h: u64 = 0xcbf29ce484222325;
    for _ in 0..reps {
        let t = std::time::Instant::now();
        let f = RandomForest::params()
            .n_trees(100)
            .max_depth(10)
            .min_samples_split(5)
            .seed(1)
            .check()
            .unwrap()
            .fit(x.view(), &y, classes)
            .unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        let p = f.to_parts();
        h = 0xcbf29ce484222325;
        let mut eat = |v: u32| {
            h ^= v as u64;
            h = h.wrapping_mul(0x100000001b3);
        };
        for v in p
            .feature
            .iter()
            .chain(&p.left)
            .chain(&p.right)
            .chain(&p.tree_offsets)
        {
            eat(*v);
        }
        for v in p.threshold.iter().chain(&p.values) {
            eat(v.to_bits());
        }
    }
    println!(
        "fit best {best:.4} s threads={} hash={h:#x}",
        rayon::current_num_threads()
    );
}
