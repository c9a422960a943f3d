//! [`random_split`]: a seeded train/test split the way Spark's `randomSplit([w, 1 - w])` makes
//! one — every row goes to the training side with probability `w`, independently, so the sides'
//! sizes vary around `w n` — from a xoshiro256++ stream (Spark's `XORShiftRandom` draws and
//! partition order are not reproduced, so the rows picked differ from Spark's).

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::{MlError, Result};

/// The indices of the training rows and of the test rows of `n` rows, each row training with
/// probability `train_fraction` (in `(0, 1)`), drawn from `seed`.
pub fn random_split(n: usize, train_fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(MlError::InvalidParameter {
            name: "train_fraction",
            reason: format!("must be in (0, 1), got {train_fraction}"),
        });
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for i in 0..n {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        if u < train_fraction {
            train.push(i);
        } else {
            test.push(i);
        }
    }
    Ok((train, test))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_row_once_near_the_fraction_and_by_seed() {
        let (train, test) = random_split(1000, 0.7, 5).unwrap();
        assert_eq!(train.len() + test.len(), 1000);
        assert!((650..750).contains(&train.len()), "{}", train.len());
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(random_split(1000, 0.7, 5).unwrap().0, train);
        assert_ne!(random_split(1000, 0.7, 6).unwrap().0, train);
        for bad in [0.0, 1.0, f64::NAN] {
            assert!(random_split(10, bad, 0).is_err());
        }
    }
}
