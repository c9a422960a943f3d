//! How the shards of a data-parallel booster combine what they computed: an all-gather of bytes
//! (the bin sketches, split candidates), an all-reduce sum of `f64` vectors (label sums) and a
//! reduce-scatter sum of `f32` histograms.
//!
//! Every participant calls the same operations with the same [`Tag`]s in the same order, because
//! every decision that orders them is taken from values all participants share. A sum adds the
//! contributions in rank order, so all participants get the same bits. [`Solo`] is the
//! one-shard case: the operations return the local values.

use std::fmt;

use crate::{MlError, Result};

/// Names one collective operation of a training run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// Before the first iteration: `"sketches"`, `"labels"`.
    Setup(&'static str),
    /// The `step`-th operation of tree `tree` of iteration `iteration`.
    Node {
        /// Boosting iteration.
        iteration: usize,
        /// Tree within the iteration (the class, for softmax).
        tree: usize,
        /// Operation within the tree.
        step: usize,
    },
}

impl Tag {
    /// The iteration the operation belongs to (`None` before the first).
    pub fn iteration(&self) -> Option<usize> {
        match self {
            Tag::Setup(_) => None,
            Tag::Node { iteration, .. } => Some(*iteration),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tag::Setup(what) => write!(f, "setup/{what}"),
            Tag::Node {
                iteration,
                tree,
                step,
            } => write!(f, "it/{iteration}/{tree}/{step}"),
        }
    }
}

/// The participants of one data-parallel training run, seen from one of them.
pub trait Collective {
    /// This participant's rank, `0..size()`.
    fn rank(&self) -> usize;

    /// The number of participants.
    fn size(&self) -> usize;

    /// Every participant's `local` bytes for `tag`, in rank order.
    fn all_gather(&mut self, tag: Tag, local: Vec<u8>) -> Result<Vec<Vec<u8>>>;

    /// Replaces `values` by the element-wise sum over every participant's `values` for `tag`,
    /// added in rank order. A contribution of another length is an error naming its rank.
    fn all_sum(&mut self, tag: Tag, values: &mut [f64]) -> Result<()> {
        gather_and_sum(self, tag, values)
    }

    /// Sums the histogram `values` where this participant needs only `blocks[rank()]` and the
    /// last `tail` values (the rest may be left as anything): a reduce-scatter, added in rank
    /// order. The default gathers and sums everything.
    fn reduce_scatter(
        &mut self,
        tag: Tag,
        values: &mut [f32],
        blocks: &[std::ops::Range<usize>],
        tail: usize,
    ) -> Result<()> {
        let _ = (blocks, tail);
        gather_and_sum(self, tag, values)
    }
}

/// Replaces `values` by their sum over every participant, gathering every contribution
/// whole: what [`Collective::all_sum`] and [`Collective::reduce_scatter`] do by default.
pub fn gather_and_sum<C: Collective + ?Sized, T: WireValue>(
    c: &mut C,
    tag: Tag,
    values: &mut [T],
) -> Result<()> {
    let mut bytes = Vec::with_capacity(values.len() * T::BYTES);
    for v in values.iter() {
        v.put(&mut bytes);
    }
    let all = c.all_gather(tag, bytes)?;
    sum_in_rank_order(tag, &all, values)
}

/// A number the collectives move, as little-endian bytes.
pub trait WireValue: Copy + PartialEq + std::ops::AddAssign + Send + Sync + 'static {
    /// Bytes per value.
    const BYTES: usize;
    /// The zero.
    const ZERO: Self;
    /// Appends the value's bytes.
    fn put(self, out: &mut Vec<u8>);
    /// Reads a value from exactly [`WireValue::BYTES`] bytes.
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! wire_value {
    ($t:ty, $n:expr) => {
        impl WireValue for $t {
            const BYTES: usize = $n;
            const ZERO: Self = 0.0;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn get(bytes: &[u8]) -> Self {
                let mut b = [0u8; $n];
                b.copy_from_slice(bytes);
                <$t>::from_le_bytes(b)
            }
        }
    };
}
wire_value!(f32, 4);
wire_value!(f64, 8);

/// Sums little-endian contributions into `out`, in rank order, checking their lengths.
pub fn sum_in_rank_order<T: WireValue>(tag: Tag, all: &[Vec<u8>], out: &mut [T]) -> Result<()> {
    for (rank, c) in all.iter().enumerate() {
        if c.len() != out.len() * T::BYTES {
            return Err(MlError::Collective(format!(
                "rank {rank} contributed {} bytes to {tag}, expected {} ({} values): the \
                 participants disagree about the shape of this round",
                c.len(),
                out.len() * T::BYTES,
                out.len()
            )));
        }
    }
    out.fill(T::ZERO);
    for c in all {
        for (o, b) in out.iter_mut().zip(c.chunks_exact(T::BYTES)) {
            *o += T::get(b);
        }
    }
    Ok(())
}

/// One participant alone: gathers and sums return the local values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_gather(&mut self, _tag: Tag, local: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        Ok(vec![local])
    }

    fn all_sum(&mut self, _tag: Tag, _values: &mut [f64]) -> Result<()> {
        Ok(())
    }

    fn reduce_scatter(
        &mut self,
        _tag: Tag,
        _values: &mut [f32],
        _blocks: &[std::ops::Range<usize>],
        _tail: usize,
    ) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_in_rank_order_and_names_a_misshapen_contribution() {
        let tag = Tag::Node {
            iteration: 3,
            tree: 1,
            step: 2,
        };
        assert_eq!(tag.to_string(), "it/3/1/2");
        let enc = |v: &[f64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let mut out = [0.0; 2];
        sum_in_rank_order(tag, &[enc(&[1.0, 2.0]), enc(&[0.5, 0.25])], &mut out).unwrap();
        assert_eq!(out, [1.5, 2.25]);
        let e = sum_in_rank_order(tag, &[enc(&[1.0, 2.0]), enc(&[1.0])], &mut out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("rank 1") && e.contains("it/3/1/2"), "{e}");
    }
}
