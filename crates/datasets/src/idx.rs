//! The IDX format of MNIST, Fashion-MNIST and EMNIST.
//!
//! All integers are big-endian `u32`. An images file is the magic `0x00000803`, the
//! image count `n`, `rows`, `cols`, then `n * rows * cols` unsigned bytes, row-major.
//! A labels file is the magic `0x00000801`, the count `n`, then `n` unsigned bytes.
//! The decoders accept plain or gzip-compressed input (detected by the `1f 8b` prefix).
//!
//! A header is a claim, not a size to allocate: plain input must hold the bytes it declares
//! before they are allocated; gzipped input is decompressed a step at a time (memory follows
//! the bytes that arrive, and a stream shorter or longer than the header says is an error);
//! and no file may declare more than [`MAX_DATA_LEN`] bytes.
//! (EMNIST stores its images transposed; this module returns the bytes as stored.)

use std::borrow::Cow;
use std::io::{self, Read};

use flate2::read::MultiGzDecoder;

use crate::{DatasetError, ImageSet, Result};

/// The magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// The magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// The length of an images file header: magic, count, rows, cols.
pub const IMAGES_HEADER_LEN: usize = 16;
/// The length of a labels file header: magic, count.
pub const LABELS_HEADER_LEN: usize = 8;

/// The largest ratio of decompressed to compressed size that deflate can reach (about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// The most pixel (or label) bytes one IDX file may declare: 4 GiB, eight times EMNIST
/// byclass (697,932 images of 28x28). A header beyond it is [`DatasetError::TooLarge`]
/// before anything is read or allocated.
pub const MAX_DATA_LEN: u64 = 1 << 32;

/// The most bytes [`gunzip_if_needed`] decompresses (4 GiB); more is [`DatasetError::TooLarge`].
pub const MAX_GUNZIP_LEN: u64 = 1 << 32;

/// Decompressed data is read in steps of this size, so memory follows the bytes that
/// actually arrive, not the size a header or trailer declares.
const READ_STEP: usize = 1 << 20;

/// The header of an IDX images file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImagesHeader {
    /// The number of images.
    pub count: u32,
    /// The height of every image.
    pub rows: u32,
    /// The width of every image.
    pub cols: u32,
}

impl ImagesHeader {
    /// The number of pixel bytes the header declares (`count * rows * cols`, saturating).
    pub fn data_len(&self) -> u64 {
        u64::from(self.count)
            .saturating_mul(u64::from(self.rows))
            .saturating_mul(u64::from(self.cols))
    }
}

/// Reads big-endian `u32` number `i` of `bytes`; the caller has checked the length.
fn be_u32(bytes: &[u8], i: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[4 * i..4 * i + 4]);
    u32::from_be_bytes(b)
}

/// Checks the magic (when at least 4 bytes are present) and the header length.
fn check_header(bytes: &[u8], what: &'static str, magic: u32, len: usize) -> Result<()> {
    if bytes.len() >= 4 {
        let found = be_u32(bytes, 0);
        if found != magic {
            return Err(DatasetError::BadMagic {
                what,
                expected: magic,
                found,
            });
        }
    }
    if bytes.len() < len {
        return Err(DatasetError::Truncated {
            what,
            expected: len as u64,
            actual: bytes.len() as u64,
        });
    }
    Ok(())
}

/// Parses an images header from the first [`IMAGES_HEADER_LEN`] bytes of `bytes`.
pub fn parse_images_header(bytes: &[u8]) -> Result<ImagesHeader> {
    check_header(bytes, "IDX images header", IMAGES_MAGIC, IMAGES_HEADER_LEN)?;
    Ok(ImagesHeader {
        count: be_u32(bytes, 1),
        rows: be_u32(bytes, 2),
        cols: be_u32(bytes, 3),
    })
}

/// Parses a labels header from the first [`LABELS_HEADER_LEN`] bytes and returns the count.
pub fn parse_labels_header(bytes: &[u8]) -> Result<u32> {
    check_header(bytes, "IDX labels header", LABELS_MAGIC, LABELS_HEADER_LEN)?;
    Ok(be_u32(bytes, 1))
}

/// Whether `bytes` starts with the gzip magic `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Decompresses `bytes` if they are gzipped, else borrows them unchanged.
pub fn gunzip_if_needed(bytes: &[u8]) -> Result<Cow<'_, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    // The trailer's ISIZE is only a hint (it may lie): it sizes the first allocation only up
    // to four times the input (typical data compresses less than that), and the vector grows
    // with the bytes that actually decompress, up to MAX_GUNZIP_LEN.
    let hint = match bytes.len().checked_sub(4) {
        Some(at) if bytes.len() >= 18 => u64::from(le_u32(&bytes[at..]))
            .min((bytes.len() as u64).saturating_mul(4))
            .min(MAX_GUNZIP_LEN),
        _ => 0,
    };
    let mut out = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    MultiGzDecoder::new(bytes)
        .take(MAX_GUNZIP_LEN + 1)
        .read_to_end(&mut out)
        .map_err(DatasetError::Gzip)?;
    if out.len() as u64 > MAX_GUNZIP_LEN {
        return Err(DatasetError::TooLarge {
            what: "gzip stream",
            size: out.len() as u64,
            limit: MAX_GUNZIP_LEN,
        });
    }
    Ok(Cow::Owned(out))
}

/// Reads a little-endian `u32` from the first four bytes (the caller checked the length).
fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(b)
}

/// A byte source over plain or gzipped input, with a bound on how much it can yield.
struct Source<'a> {
    /// The (possibly decompressing) reader.
    reader: Box<dyn Read + 'a>,
    /// Upper bound on the number of bytes the reader can yield.
    bound: u64,
    /// Whether the input is gzipped (so that the bound is not exact).
    gz: bool,
    /// Bytes consumed so far.
    pos: u64,
    /// The length of the (possibly compressed) input.
    input_len: u64,
}

impl<'a> Source<'a> {
    /// Opens `bytes`, decompressing on the fly if they are gzipped.
    fn new(bytes: &'a [u8]) -> Self {
        let gz = is_gzip(bytes);
        let (reader, bound): (Box<dyn Read + 'a>, u64) = if gz {
            (
                Box::new(MultiGzDecoder::new(bytes)),
                (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO) + 1024,
            )
        } else {
            (Box::new(bytes), bytes.len() as u64)
        };
        Self {
            reader,
            bound,
            gz,
            pos: 0,
            input_len: bytes.len() as u64,
        }
    }

    /// Reads until `buf` is full or the input ends; returns the count read, or the error.
    fn fill(&mut self, buf: &mut [u8]) -> std::result::Result<usize, (usize, io::Error)> {
        let mut n = 0;
        while n < buf.len() {
            match self.reader.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pos += n as u64;
                    return Err((n, e));
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    /// Fills `buf` completely or fails with `Truncated` (or `Gzip` for a corrupt stream).
    fn read_exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<()> {
        let start = self.pos;
        let n = match self.fill(buf) {
            Ok(n) => n,
            Err((n, e)) if e.kind() == io::ErrorKind::UnexpectedEof => n,
            Err((_, e)) => return Err(DatasetError::Gzip(e)),
        };
        if n < buf.len() {
            return Err(DatasetError::Truncated {
                what,
                expected: start + buf.len() as u64,
                actual: start + n as u64,
            });
        }
        Ok(())
    }

    /// Reads the header bytes, letting `parse` report bad magic even on a short header.
    fn read_header<T>(&mut self, len: usize, parse: fn(&[u8]) -> Result<T>) -> Result<T> {
        let mut buf = [0u8; IMAGES_HEADER_LEN];
        let buf = &mut buf[..len];
        let n = match self.fill(buf) {
            Ok(n) => n,
            Err((n, e)) if e.kind() == io::ErrorKind::UnexpectedEof => n,
            Err((_, e)) => return Err(DatasetError::Gzip(e)),
        };
        parse(&buf[..n])
    }

    /// Fails with `Truncated` if `need` more bytes cannot possibly be available.
    fn check_available(&self, need: u64, what: &'static str) -> Result<()> {
        let left = self.bound.saturating_sub(self.pos);
        if need > left {
            return Err(DatasetError::Truncated {
                what,
                expected: self.pos.saturating_add(need),
                actual: if self.gz { self.pos } else { self.bound },
            });
        }
        Ok(())
    }

    /// Reads `len` bytes into a new vector, checking the bound before allocating.
    ///
    /// Plain input holds the bytes already (the bound is exact), so the vector is allocated
    /// once. Gzipped input only bounds them by the deflate ratio, a thousand times the input,
    /// so the vector grows a step at a time as decompressed bytes arrive: a header that
    /// declares more than the stream holds costs what the stream holds, then `Truncated`.
    fn read_vec(&mut self, len: u64, what: &'static str) -> Result<Vec<u8>> {
        self.check_available(len, what)?;
        if len > MAX_DATA_LEN {
            return Err(DatasetError::TooLarge {
                what,
                size: len,
                limit: MAX_DATA_LEN,
            });
        }
        let len = usize::try_from(len).map_err(|_| DatasetError::Shape {
            reason: format!("{what}: {len} bytes do not fit in memory"),
        })?;
        if !self.gz {
            let mut out = vec![0u8; len];
            self.read_exact(&mut out, what)?;
            return Ok(out);
        }
        let begin = self.pos;
        let mut out = Vec::new();
        while out.len() < len {
            let at = out.len();
            let step = (len - at).min(READ_STEP);
            out.resize(at + step, 0);
            match self.read_exact(&mut out[at..], what) {
                // Name the whole declared length, not the step that came up short.
                Err(DatasetError::Truncated { actual, .. }) => {
                    return Err(DatasetError::Truncated {
                        what,
                        expected: begin + len as u64,
                        actual,
                    });
                }
                other => other?,
            }
        }
        Ok(out)
    }

    /// Fails with `TrailingData` if anything follows; also validates the gzip trailer.
    fn expect_end(&mut self, what: &'static str) -> Result<()> {
        let mut sink = [0u8; 4096];
        let mut extra = 0u64;
        loop {
            match self.fill(&mut sink) {
                Ok(0) => break,
                Ok(n) => extra += n as u64,
                Err((_, e)) if e.kind() == io::ErrorKind::UnexpectedEof && extra == 0 => {
                    return Err(DatasetError::Truncated {
                        what: "gzip stream (its end or CRC trailer is missing)",
                        expected: self.input_len + 1,
                        actual: self.input_len,
                    });
                }
                Err((_, e)) => return Err(DatasetError::Gzip(e)),
            }
        }
        if extra > 0 {
            return Err(DatasetError::TrailingData { what, extra });
        }
        Ok(())
    }
}

/// Decodes an images file (plain or gzipped) into its header and pixels.
pub fn decode_images(bytes: &[u8]) -> Result<(ImagesHeader, Vec<u8>)> {
    decode_images_limit(bytes, None)
}

/// Decodes at most `limit` images (all if `None`); the header's count is the number returned.
///
/// With a limit, a gzipped file is only decompressed as far as needed.
pub fn decode_images_limit(bytes: &[u8], limit: Option<usize>) -> Result<(ImagesHeader, Vec<u8>)> {
    let mut src = Source::new(bytes);
    let header = src.read_header(IMAGES_HEADER_LEN, parse_images_header)?;
    let what = "IDX images data";
    let total = header.data_len();
    if !src.gz {
        src.check_available(total, what)?;
    }
    let take = limit.map_or(header.count, |l| {
        u32::try_from(l).unwrap_or(u32::MAX).min(header.count)
    });
    let per_image = u64::from(header.rows) * u64::from(header.cols);
    let pixels = src.read_vec(u64::from(take).saturating_mul(per_image), what)?;
    if take == header.count {
        src.expect_end("IDX images")?;
    }
    Ok((
        ImagesHeader {
            count: take,
            ..header
        },
        pixels,
    ))
}

/// Decodes a labels file (plain or gzipped).
pub fn decode_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    decode_labels_limit(bytes, None)
}

/// Decodes at most `limit` labels (all if `None`).
pub fn decode_labels_limit(bytes: &[u8], limit: Option<usize>) -> Result<Vec<u8>> {
    let mut src = Source::new(bytes);
    let count = src.read_header(LABELS_HEADER_LEN, parse_labels_header)?;
    let what = "IDX labels data";
    if !src.gz {
        src.check_available(u64::from(count), what)?;
    }
    let take = limit.map_or(count, |l| u32::try_from(l).unwrap_or(u32::MAX).min(count));
    let labels = src.read_vec(u64::from(take), what)?;
    if take == count {
        src.expect_end("IDX labels")?;
    }
    Ok(labels)
}

/// Encodes images as an uncompressed IDX file; `pixels` holds whole `rows x cols` images.
pub fn encode_images(rows: u32, cols: u32, pixels: &[u8]) -> Result<Vec<u8>> {
    let per_image = rows as usize * cols as usize;
    if per_image == 0 {
        return Err(DatasetError::Shape {
            reason: format!("cannot encode images of {rows}x{cols} pixels"),
        });
    }
    if !pixels.len().is_multiple_of(per_image) {
        return Err(DatasetError::Shape {
            reason: format!(
                "{} pixels is not a whole number of {rows}x{cols} images",
                pixels.len()
            ),
        });
    }
    let count = u32::try_from(pixels.len() / per_image).map_err(|_| DatasetError::Shape {
        reason: "more than u32::MAX images".to_string(),
    })?;
    let mut out = Vec::with_capacity(IMAGES_HEADER_LEN + pixels.len());
    for v in [IMAGES_MAGIC, count, rows, cols] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    Ok(out)
}

/// Encodes labels as an uncompressed IDX file.
///
/// # Panics
/// If there are more than `u32::MAX` labels, which the format cannot express.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    assert!(
        u32::try_from(labels.len()).is_ok(),
        "IDX cannot hold more than u32::MAX labels"
    );
    let mut out = Vec::with_capacity(LABELS_HEADER_LEN + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// Encodes an [`ImageSet`] as uncompressed `(images, labels)` IDX files.
pub fn encode_image_set(set: &ImageSet) -> Result<(Vec<u8>, Vec<u8>)> {
    if u32::try_from(set.len()).is_err() {
        return Err(DatasetError::Shape {
            reason: "more than u32::MAX images".to_string(),
        });
    }
    Ok((
        encode_images(set.rows, set.cols, &set.pixels)?,
        encode_labels(&set.labels),
    ))
}

/// Decodes an images file and a labels file (each plain or gzipped) into an [`ImageSet`].
pub fn read_pair(images: &[u8], labels: &[u8]) -> Result<ImageSet> {
    read_pair_limit(images, labels, None)
}

/// Like [`read_pair`] but keeps at most the first `limit` images.
///
/// The full counts declared by the two headers must still match.
pub fn read_pair_limit(images: &[u8], labels: &[u8], limit: Option<usize>) -> Result<ImageSet> {
    let image_count = parse_header_of(images, IMAGES_HEADER_LEN, |b| {
        parse_images_header(b).map(|h| h.count)
    })?;
    let label_count = parse_header_of(labels, LABELS_HEADER_LEN, parse_labels_header)?;
    if image_count != label_count {
        return Err(DatasetError::Mismatch {
            images: u64::from(image_count),
            labels: u64::from(label_count),
        });
    }
    let (header, pixels) = decode_images_limit(images, limit)?;
    let labels = decode_labels_limit(labels, limit)?;
    ImageSet::new(header.rows, header.cols, pixels, labels)
}

/// Decodes just the header of a plain or gzipped file.
fn parse_header_of<T>(bytes: &[u8], len: usize, parse: fn(&[u8]) -> Result<T>) -> Result<T> {
    Source::new(bytes).read_header(len, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let enc = encode_images(2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).unwrap();
        let h = parse_images_header(&enc).unwrap();
        assert_eq!(
            h,
            ImagesHeader {
                count: 2,
                rows: 2,
                cols: 3
            }
        );
        assert_eq!(parse_labels_header(&encode_labels(&[1, 2, 3])).unwrap(), 3);
    }

    #[test]
    fn short_header_reports_truncated_or_magic() {
        assert!(matches!(
            parse_images_header(&[0, 0, 8]),
            Err(DatasetError::Truncated { expected: 16, .. })
        ));
        assert!(matches!(
            parse_images_header(&[0, 0, 8, 1]),
            Err(DatasetError::BadMagic { found: 0x801, .. })
        ));
    }

    #[test]
    fn encode_rejects_bad_shapes() {
        assert!(encode_images(0, 3, &[]).is_err());
        assert!(encode_images(2, 2, &[0; 5]).is_err());
    }
}
