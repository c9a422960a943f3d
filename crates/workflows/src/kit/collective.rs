//! A data-parallel fit's [`Collective`] over the state store, for any workflow whose functions
//! hold shards (gbdt's workers): every participant writes its contribution under the operation's
//! key and reads the others'. A gather or a sum reads every other participant's whole
//! contribution ("pull-all"); a reduce-scatter sends each participant only its block, so each
//! reads `(W - 1) / W` of a histogram. Contributions are added in rank order, so every
//! participant holds the same bits.
//!
//! A sum's contribution is sent sparse: a bitmap of the non-zero values and those values (a small
//! leaf's histogram is mostly zeros). Keys are `<prefix>/ar/<tag>/<rank>` (and
//! `<prefix>/ar/<tag>/<to>/<from>` for a reduce-scatter); writing one twice writes the same bytes
//! (a re-invoked worker repeats its last iteration), and rank 0 removes an iteration's keys two
//! iterations later, when no participant can still need them. The booster is synchronous and runs
//! on a blocking thread; each operation blocks on the async store.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use faasml_ml::MlError;
use faasml_ml::gbdt::{Collective, Tag, WireValue};
use faasml_state::StateStore;
use tokio::runtime::Handle;

/// Traffic counters of one participant.
#[derive(Debug, Clone, Copy, Default)]
pub struct Traffic {
    /// Bytes written.
    pub sent: u64,
    /// Bytes read from other participants.
    pub received: u64,
    /// Operations.
    pub operations: u64,
}

/// One participant of a run's shards, over a state store.
pub struct StateCollective {
    state: Arc<dyn StateStore>,
    prefix: String,
    rank: usize,
    size: usize,
    timeout: Duration,
    handle: Handle,
    /// What this participant moved.
    pub traffic: Traffic,
    last_collected: Option<usize>,
    /// The running sum of a reduce-scatter when this rank's own values cannot be its start
    /// (rank 2 and up), kept between rounds: a fresh half-histogram every round cost page
    /// faults and TLB shootdowns.
    scratch: Vec<f32>,
    /// Whether contributions travel dense (the store is in this process) or sparse.
    dense: bool,
}

impl StateCollective {
    /// Participant `rank` of `size`, under the state prefix `prefix`, giving up on a missing
    /// contribution after `timeout`. Must be created on a Tokio runtime thread or given its
    /// handle through [`Handle::current`].
    pub fn new(
        state: Arc<dyn StateStore>,
        prefix: String,
        rank: usize,
        size: usize,
        timeout: Duration,
        handle: Handle,
    ) -> Self {
        let dense = state.is_local();
        Self {
            state,
            prefix,
            rank,
            size,
            timeout,
            handle,
            traffic: Traffic::default(),
            last_collected: None,
            scratch: Vec::new(),
            dense,
        }
    }

    fn key(&self, tag: Tag, rank: usize) -> String {
        format!("{}/ar/{tag}/{rank}", self.prefix)
    }

    /// Writes `writes` (key, bytes), then waits for the keys `reads` and returns their bytes
    /// in order.
    fn exchange(
        &mut self,
        tag: Tag,
        writes: Vec<(String, Bytes)>,
        reads: &[(usize, String)],
    ) -> Result<Vec<Bytes>, MlError> {
        self.collect_garbage(tag)?;
        let state = Arc::clone(&self.state);
        let handle = self.handle.clone();
        self.traffic.operations += 1;
        for (key, bytes) in writes {
            self.traffic.sent += bytes.len() as u64;
            handle
                .block_on(state.put(&key, bytes))
                .map_err(|e| MlError::Collective(format!("writing {key}: {e}")))?;
        }
        let mut got = Vec::with_capacity(reads.len());
        let started = Instant::now();
        let notified = state.notifies_writes();
        for (r, key) in reads {
            // This thread is the worker's own (the booster is synchronous). A store that hears
            // of its writes (the embedded one) wakes it when the key is written. Another is
            // polled: yielding for the first 200 µs, then sleeping between polls — 50 µs apart
            // for the first 20 ms (a peer that is a split's work behind), then backing off to
            // 2 ms (a peer loading or restarting). Tokio's timer cannot sleep below 1 ms, hence
            // the thread sleep.
            let mut pause = Duration::from_micros(50);
            loop {
                let read = if notified {
                    let left = self.timeout.saturating_sub(started.elapsed());
                    handle.block_on(state.wait_get(key, left.min(Duration::from_secs(1))))
                } else {
                    handle.block_on(state.get(key))
                };
                match read {
                    Ok(Some(b)) => {
                        self.traffic.received += b.len() as u64;
                        got.push(b);
                        break;
                    }
                    Ok(None) if started.elapsed() < self.timeout => {
                        if notified {
                            continue;
                        }
                        if started.elapsed() < Duration::from_micros(200) {
                            // A peer a few microseconds behind: yield rather than sleep (a
                            // sleep costs a timer slack of ~50 µs).
                            std::thread::yield_now();
                            continue;
                        }
                        std::thread::sleep(pause);
                        if started.elapsed() > Duration::from_millis(20) {
                            pause = (pause * 2).min(Duration::from_millis(2));
                        }
                    }
                    Ok(None) => {
                        return Err(MlError::Collective(format!(
                            "rank {r} did not contribute to {tag} within {} s (is its worker \
                             running?)",
                            self.timeout.as_secs()
                        )));
                    }
                    Err(e) => return Err(MlError::Collective(format!("reading {key}: {e}"))),
                }
            }
        }
        Ok(got)
    }

    /// Writes `local` as this rank's contribution to `tag` and reads every other rank's, in
    /// rank order (`None` at this rank's place).
    fn pull_all(&mut self, tag: Tag, local: Bytes) -> Result<Vec<Option<Bytes>>, MlError> {
        let me = self.rank;
        let reads: Vec<(usize, String)> = (0..self.size)
            .filter(|&r| r != me)
            .map(|r| (r, self.key(tag, r)))
            .collect();
        let got = self.exchange(tag, vec![(self.key(tag, me), local)], &reads)?;
        let mut out = vec![None; self.size];
        for ((r, _), b) in reads.iter().zip(got) {
            out[*r] = Some(b);
        }
        Ok(out)
    }

    /// Rank 0, entering iteration `i`, removes the keys of iteration `i - 2`.
    fn collect_garbage(&mut self, tag: Tag) -> Result<(), MlError> {
        let Some(it) = tag.iteration() else {
            return Ok(());
        };
        if self.rank != 0 || it < 2 || self.last_collected >= Some(it - 2) {
            return Ok(());
        }
        let prefix = format!("{}/ar/it/{}/", self.prefix, it - 2);
        let state = Arc::clone(&self.state);
        self.handle
            .block_on(async move { state.delete_prefix(&prefix).await })
            .map_err(|e| MlError::Collective(format!("removing old contributions: {e}")))?;
        self.last_collected = Some(it - 2);
        Ok(())
    }
}

/// A sparse encoding of `values`: their count (u32), a bitmap of the non-zero ones, and those.
pub fn encode_sparse<T: WireValue>(values: &[T]) -> Vec<u8> {
    encode_sparse_parts(&[values])
}

/// [`encode_sparse`] of the concatenation of `parts`, without building it.
pub fn encode_sparse_parts<T: WireValue>(parts: &[&[T]]) -> Vec<u8> {
    let n: usize = parts.iter().map(|p| p.len()).sum();
    let head = 4 + n.div_ceil(8);
    let mut out = Vec::with_capacity(head + n * T::BYTES);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.resize(head, 0);
    let mut at = 0usize;
    for part in parts {
        let mut rest: &[T] = part;
        if at.is_multiple_of(8) {
            // Eight values at a time: their bitmap byte without branches, then only the
            // non-zero ones (a histogram has long runs of zeros, and of non-zeros).
            let chunks = rest.chunks_exact(8);
            let left = chunks.remainder();
            for c in chunks {
                let mut bits = 0u8;
                for (k, v) in c.iter().enumerate() {
                    bits |= u8::from(*v != T::ZERO) << k;
                }
                out[4 + at / 8] = bits;
                let mut b = bits;
                while b != 0 {
                    c[b.trailing_zeros() as usize].put(&mut out);
                    b &= b - 1;
                }
                at += 8;
            }
            rest = left;
        }
        for v in rest {
            if *v != T::ZERO {
                out[4 + at / 8] |= 1 << (at % 8);
                v.put(&mut out);
            }
            at += 1;
        }
    }
    out
}

/// Adds a sparse contribution into `acc`, checking its shape against `acc`'s.
pub fn add_sparse<T: WireValue>(
    tag: Tag,
    rank: usize,
    bytes: &[u8],
    acc: &mut [T],
) -> Result<(), MlError> {
    let n = acc.len();
    add_sparse_with(tag, rank, bytes, n, |i, v| acc[i] += v)
}

/// Checks a sparse contribution of `n` values and calls `add(index, value)` for each of its
/// non-zero values, in index order.
fn add_sparse_with<T: WireValue>(
    tag: Tag,
    rank: usize,
    bytes: &[u8],
    n: usize,
    mut add: impl FnMut(usize, T),
) -> Result<(), MlError> {
    let bad = |why: String| {
        MlError::Collective(format!(
            "rank {rank}'s contribution to {tag} {why}: the participants disagree about the \
             shape of this round"
        ))
    };
    let got = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| bad("is truncated".into()))?;
    if got != n {
        return Err(bad(format!("holds {got} values, expected {n}")));
    }
    let map_len = n.div_ceil(8);
    let bitmap = bytes
        .get(4..4 + map_len)
        .ok_or_else(|| bad("is truncated".into()))?;
    let values = &bytes[4 + map_len..];
    let set: usize = bitmap.iter().map(|b| b.count_ones() as usize).sum();
    if values.len() != set * T::BYTES {
        return Err(bad(format!(
            "has {} value bytes for {set} values",
            values.len()
        )));
    }
    if !n.is_multiple_of(8) && bitmap[map_len - 1] >> (n % 8) != 0 {
        return Err(bad("marks values past its end".into()));
    }
    let mut it = values.chunks_exact(T::BYTES);
    for (k, &byte) in bitmap.iter().enumerate() {
        let mut bits = byte;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let b = it.next().expect("counted");
            add(k * 8 + i, T::get(b));
        }
    }
    Ok(())
}

/// How a reduce-scatter contribution travels: its first byte.
const SPARSE: u8 = 0;
const DENSE: u8 = 1;

/// A rank's contribution to another's block: the block's values, then the tail, dense (`f32`
/// little-endian after their count) when the store is in this process — handing over bytes
/// costs nothing there, encoding them does — and sparse ([`encode_sparse`]) when they travel.
fn encode_contribution(parts: [&[f32]; 2], dense: bool) -> Vec<u8> {
    let n = parts[0].len() + parts[1].len();
    if !dense {
        let mut out = vec![SPARSE];
        out.extend_from_slice(&encode_sparse_parts(&parts));
        return out;
    }
    let mut out = Vec::with_capacity(5 + n * 4);
    out.push(DENSE);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    for part in parts {
        if cfg!(target_endian = "little") {
            // The values' own bytes are their little-endian bytes: one copy.
            out.extend_from_slice(bytemuck::cast_slice(part));
        } else {
            for v in part {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

/// Adds a contribution from rank `rank` into `parts` (a block, then a tail, as one vector),
/// checking its kind and shape.
fn add_contribution(
    tag: Tag,
    rank: usize,
    bytes: &[u8],
    parts: [&mut [f32]; 2],
) -> Result<(), MlError> {
    let [block, tail] = parts;
    let split = block.len();
    let n = split + tail.len();
    match bytes.split_first() {
        Some((&DENSE, rest)) => {
            if rest.len() != 4 + n * 4 || rest[..4] != (n as u32).to_le_bytes() {
                return Err(MlError::Collective(format!(
                    "rank {rank}'s contribution to {tag} holds {} bytes, expected {} dense \
                     values: the participants disagree about the shape of this round",
                    rest.len(),
                    n
                )));
            }
            let (head, end) = rest[4..].split_at(split * 4);
            for (a, b) in block.iter_mut().zip(head.chunks_exact(4)) {
                *a += f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            for (a, b) in tail.iter_mut().zip(end.chunks_exact(4)) {
                *a += f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            Ok(())
        }
        Some((&SPARSE, rest)) => {
            // The tail is a few values: decode into a small buffer, add the block in place.
            let mut end = vec![0.0f32; tail.len()];
            add_sparse_with(tag, rank, rest, n, |i, v: f32| {
                if i < split {
                    block[i] += v;
                } else {
                    end[i - split] += v;
                }
            })?;
            for (t, v) in tail.iter_mut().zip(&end) {
                *t += v;
            }
            Ok(())
        }
        _ => Err(MlError::Collective(format!(
            "rank {rank}'s contribution to {tag} is empty or of an unknown kind"
        ))),
    }
}

impl Collective for StateCollective {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn all_gather(&mut self, tag: Tag, local: Vec<u8>) -> Result<Vec<Vec<u8>>, MlError> {
        if self.size == 1 {
            return Ok(vec![local]);
        }
        let own = local.clone();
        let got = self.pull_all(tag, Bytes::from(local))?;
        Ok(got
            .into_iter()
            .map(|b| b.map_or_else(|| own.clone(), |b| b.to_vec()))
            .collect())
    }

    fn all_sum(&mut self, tag: Tag, values: &mut [f64]) -> Result<(), MlError> {
        if self.size == 1 {
            return Ok(());
        }
        let got = self.pull_all(tag, Bytes::from(encode_sparse(values)))?;
        let own = values.to_vec();
        values.fill(0.0);
        for (r, c) in got.iter().enumerate() {
            match c {
                Some(bytes) => add_sparse(tag, r, bytes, values)?,
                None => {
                    for (a, v) in values.iter_mut().zip(&own) {
                        *a += v;
                    }
                }
            }
        }
        Ok(())
    }

    fn reduce_scatter(
        &mut self,
        tag: Tag,
        values: &mut [f32],
        blocks: &[Range<usize>],
        tail: usize,
    ) -> Result<(), MlError> {
        if self.size == 1 {
            return Ok(());
        }
        self.scatter(tag, values, blocks, tail)
    }
}

impl StateCollective {
    /// Where rank `from` leaves its contribution to rank `to`'s block for `tag`.
    fn contribution_key(&self, tag: Tag, to: usize, from: usize) -> String {
        format!("{}/ar/{tag}/{to}/{from}", self.prefix)
    }

    /// The bytes rank `to` needs of `values`: its block, then the tail.
    fn block_of(values: &[f32], block: &Range<usize>, tail: usize, dense: bool) -> Vec<u8> {
        let n = values.len();
        encode_contribution([&values[block.clone()], &values[n - tail..]], dense)
    }

    /// The reduce-scatter: rank `r` receives only the other ranks' values of `blocks[r]` (and the
    /// tail), so each rank reads `(W - 1) / W` of a histogram instead of `W - 1` of them.
    fn scatter(
        &mut self,
        tag: Tag,
        values: &mut [f32],
        blocks: &[Range<usize>],
        tail: usize,
    ) -> Result<(), MlError> {
        let (me, n) = (self.rank, values.len());
        if blocks.len() != self.size || tail > n || blocks.iter().any(|b| b.end > n - tail) {
            return Err(MlError::Collective(format!(
                "{tag}: {} blocks for {} participants over {n} values",
                blocks.len(),
                self.size
            )));
        }
        let writes = (0..self.size)
            .filter(|&to| to != me)
            .map(|to| {
                let key = self.contribution_key(tag, to, me);
                let bytes = Self::block_of(values, &blocks[to], tail, self.dense);
                (key, Bytes::from(bytes))
            })
            .collect();
        let reads: Vec<(usize, String)> = (0..self.size)
            .filter(|&from| from != me)
            .map(|from| (from, self.contribution_key(tag, me, from)))
            .collect();
        let got = self.exchange(tag, writes, &reads)?;
        let block = blocks[me].clone();
        let (head, rest) = values.split_at_mut(block.end);
        let own_block = &mut head[block.clone()];
        let rest_len = rest.len();
        let own_tail = &mut rest[rest_len - tail..];
        let mut next = got.iter().zip(&reads);
        if me <= 1 {
            // Rank order without a copy: rank 0's sum starts from its own values; rank 1's
            // from its own plus rank 0's, which is rank 0's plus its own (one addition
            // commutes bit for bit).
            for (bytes, (from, _)) in next {
                add_contribution(tag, *from, bytes, [&mut *own_block, &mut *own_tail])?;
            }
            return Ok(());
        }
        let len = block.len() + tail;
        self.scratch.clear();
        self.scratch.resize(len, 0.0);
        for r in 0..self.size {
            if r == me {
                let (a, b) = self.scratch.split_at_mut(block.len());
                for (s, v) in a.iter_mut().zip(own_block.iter()) {
                    *s += v;
                }
                for (s, v) in b.iter_mut().zip(own_tail.iter()) {
                    *s += v;
                }
            } else if let Some((bytes, (from, _))) = next.next() {
                let (a, b) = self.scratch.split_at_mut(block.len());
                add_contribution(tag, *from, bytes, [a, b])?;
            }
        }
        let (a, b) = self.scratch.split_at(block.len());
        own_block.copy_from_slice(a);
        own_tail.copy_from_slice(b);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_contributions_round_trip_and_a_misshapen_one_is_named() {
        let tag = Tag::Setup("labels");
        let v = [0.0f64, 1.5, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0, 3.25];
        let bytes = encode_sparse(&v);
        assert_eq!(bytes.len(), 4 + 2 + 3 * 8);
        let narrow: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        assert_eq!(encode_sparse(&narrow).len(), 4 + 2 + 3 * 4);
        let mut acc = [0.0; 10];
        add_sparse(tag, 1, &bytes, &mut acc).unwrap();
        assert_eq!(acc, v);
        let mut short = [0.0f64; 9];
        let e = add_sparse(tag, 3, &bytes, &mut short)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rank 3") && e.contains("setup/labels") && e.contains("10 values"),
            "{e}"
        );
        assert!(add_sparse(tag, 0, &bytes[..bytes.len() - 1], &mut acc).is_err());
        assert!(add_sparse(tag, 0, &[1, 0], &mut acc).is_err());
    }
}

#[cfg(test)]
mod contribution_tests {
    use super::*;

    #[test]
    fn contributions_add_alike_dense_and_sparse_and_a_bad_one_is_named() {
        let tag = Tag::Node {
            iteration: 1,
            tree: 0,
            step: 4,
        };
        let block = [0.0f32, 2.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let tail = [3.0f32, 0.0, 7.0];
        for dense in [true, false] {
            let bytes = encode_contribution([&block, &tail], dense);
            let (mut b, mut t) = ([1.0f32; 10], [1.0f32; 3]);
            add_contribution(tag, 2, &bytes, [&mut b, &mut t]).unwrap();
            assert_eq!(b, block.map(|v| v + 1.0), "dense {dense}");
            assert_eq!(t, tail.map(|v| v + 1.0), "dense {dense}");
            // Another shape: named, with the rank and the round.
            let (mut b, mut t) = ([0.0f32; 9], [0.0f32; 3]);
            let e = add_contribution(tag, 2, &bytes, [&mut b, &mut t])
                .unwrap_err()
                .to_string();
            assert!(e.contains("rank 2") && e.contains("it/1/0/4"), "{e}");
            let (mut b, mut t) = ([0.0f32; 10], [0.0f32; 3]);
            assert!(add_contribution(tag, 2, &bytes[..bytes.len() - 1], [&mut b, &mut t]).is_err());
        }
        let (mut b, mut t) = ([0.0f32; 10], [0.0f32; 3]);
        for bad in [&[][..], &[9, 0, 0, 0, 0][..]] {
            let e = add_contribution(tag, 1, bad, [&mut b, &mut t])
                .unwrap_err()
                .to_string();
            assert!(e.contains("unknown kind"), "{e}");
        }
    }
}

#[cfg(test)]
mod scatter_tests {
    use super::*;
    use faasml_state::EmbeddedState;

    /// Three participants over the embedded state: each ends with the sums of its own block and
    /// of the tail.
    #[test]
    fn a_reduce_scatter_sums_each_block_for_its_owner() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let state: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
        let blocks = vec![0..3, 3..3, 3..7];
        let tag = Tag::Node {
            iteration: 0,
            tree: 0,
            step: 0,
        };
        let handles: Vec<_> = (0..3)
            .map(|rank| {
                let (state, blocks, handle) = (state.clone(), blocks.clone(), rt.handle().clone());
                std::thread::spawn(move || {
                    let mut c = StateCollective::new(
                        state,
                        "t".into(),
                        rank,
                        3,
                        Duration::from_secs(5),
                        handle,
                    );
                    let mut v: Vec<f32> = (0..9).map(|i| (i * 10 + rank) as f32).collect();
                    c.reduce_scatter(tag, &mut v, &blocks, 2).unwrap();
                    (v, blocks[rank].clone())
                })
            })
            .collect();
        for h in handles {
            let (v, block) = h.join().unwrap();
            for i in block.chain(7..9) {
                assert_eq!(v[i], (i * 30 + 3) as f32, "value {i}");
            }
        }
    }
}
