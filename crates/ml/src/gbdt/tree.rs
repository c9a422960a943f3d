//! One regression tree of a boosted ensemble: internal nodes that send a row left when its
//! feature value is at most the threshold, and leaves holding the (already shrunk) output.
//!
//! A child index `c >= 0` is an internal node, `c < 0` is leaf `!c`. A tree of one leaf has no
//! internal nodes. A value that is not a number goes right (it is never `<=` a threshold).

use super::bins::Features;
use crate::{MlError, Result};

/// A grown tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    pub(crate) feature: Vec<u32>,
    pub(crate) threshold: Vec<f32>,
    pub(crate) left: Vec<i32>,
    pub(crate) right: Vec<i32>,
    pub(crate) leaf_value: Vec<f64>,
}

impl Tree {
    /// A tree of one leaf.
    pub(crate) fn leaf(value: f64) -> Self {
        Tree {
            feature: Vec::new(),
            threshold: Vec::new(),
            left: Vec::new(),
            right: Vec::new(),
            leaf_value: vec![value],
        }
    }

    /// Rebuilds a tree from its arrays, checking that they describe one: every child in range,
    /// every node and leaf reached exactly once from the root, every value finite.
    pub fn from_parts(
        feature: Vec<u32>,
        threshold: Vec<f32>,
        left: Vec<i32>,
        right: Vec<i32>,
        leaf_value: Vec<f64>,
        n_features: usize,
    ) -> Result<Self> {
        let m = feature.len();
        let bad = |why: String| Err(MlError::CorruptModel(format!("boosted tree: {why}")));
        if threshold.len() != m || left.len() != m || right.len() != m {
            return bad("node arrays of different lengths".into());
        }
        if leaf_value.len() != m + 1 {
            return bad(format!(
                "{m} nodes need {} leaves, got {}",
                m + 1,
                leaf_value.len()
            ));
        }
        if feature.iter().any(|&f| f as usize >= n_features) {
            return bad(format!("a node splits a feature beyond {n_features}"));
        }
        if threshold.iter().any(|t| !t.is_finite()) || leaf_value.iter().any(|v| !v.is_finite()) {
            return bad("a threshold or leaf value is not finite".into());
        }
        let (mut seen_node, mut seen_leaf) = (vec![false; m], vec![false; m + 1]);
        if m > 0 {
            seen_node[0] = true;
        }
        for c in left.iter().chain(&right) {
            let c = *c;
            let slot = if c >= 0 {
                seen_node.get_mut(c as usize).filter(|_| c != 0)
            } else {
                seen_leaf.get_mut((!c) as usize)
            };
            match slot {
                Some(s) if !*s => *s = true,
                _ => return bad(format!("child {c} is out of range or reached twice")),
            }
        }
        if m > 0 && (seen_node.contains(&false) || seen_leaf.contains(&false)) {
            return bad("a node or leaf is not reachable".into());
        }
        Ok(Tree {
            feature,
            threshold,
            left,
            right,
            leaf_value,
        })
    }

    /// Number of leaves.
    pub fn n_leaves(&self) -> usize {
        self.leaf_value.len()
    }

    /// The leaf a row reaches, given a lookup of its feature values.
    #[inline]
    pub(crate) fn leaf_of(&self, value: impl Fn(usize) -> f32) -> usize {
        if self.feature.is_empty() {
            return 0;
        }
        let mut node = 0usize;
        loop {
            let v = value(self.feature[node] as usize);
            let next = if v <= self.threshold[node] {
                self.left[node]
            } else {
                self.right[node]
            };
            if next < 0 {
                return (!next) as usize;
            }
            node = next as usize;
        }
    }

    /// Adds this tree's output for every row of `x` to `scores[i * stride + slot]`.
    pub(crate) fn add_to(&self, x: Features<'_>, scores: &mut [f64], stride: usize, slot: usize) {
        match x {
            Features::Dense(m) => {
                for i in 0..m.rows() {
                    let row = m.row(i);
                    scores[i * stride + slot] += self.leaf_value[self.leaf_of(|f| row[f])];
                }
            }
            Features::Sparse(m) => {
                for i in 0..m.n_rows() {
                    let r = m.row(i);
                    let leaf = self.leaf_of(|f| match r.indices.binary_search(&(f as u32)) {
                        Ok(k) => r.values[k],
                        Err(_) => 0.0,
                    });
                    scores[i * stride + slot] += self.leaf_value[leaf];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_trees_are_refused() {
        // A stump: x0 <= 0.5 -> leaf 0 (-1), else leaf 1 (+1).
        let t =
            Tree::from_parts(vec![0], vec![0.5], vec![!0], vec![!1], vec![-1.0, 1.0], 1).unwrap();
        assert_eq!(t.leaf_of(|_| 0.2), 0);
        assert_eq!(t.leaf_of(|_| f32::NAN), 1);
        for (l, r) in [
            (vec![!0], vec![!0]),
            (vec![0], vec![!1]),
            (vec![5], vec![!1]),
        ] {
            assert!(Tree::from_parts(vec![0], vec![0.5], l, r, vec![0.0, 0.0], 1).is_err());
        }
        assert!(
            Tree::from_parts(vec![3], vec![0.5], vec![!0], vec![!1], vec![0.0, 0.0], 1).is_err()
        );
        assert!(Tree::from_parts(vec![], vec![], vec![], vec![], vec![f64::NAN], 1).is_err());
    }
}
