//! Greyscale PNG images whose class label is the name of the directory holding them.
//!
//! Object keys look like `prefix/7/000123.png`: the image's class is `7`.

use std::io::Cursor;

use crate::{DatasetError, Result};

/// The largest image (in pixels) [`decode_gray`] accepts: 16 Mi pixels, e.g. 4096x4096.
pub const MAX_PIXELS: u64 = 1 << 24;

/// The largest ratio of decompressed to compressed size that deflate can reach (about 1032:1).
const MAX_DEFLATE_RATIO: u64 = 1032;

/// Builds a [`DatasetError::Png`] from anything printable.
fn png_err(reason: impl std::fmt::Display) -> DatasetError {
    DatasetError::Png {
        reason: reason.to_string(),
    }
}

/// Encodes `rows x cols` row-major pixels as an 8-bit greyscale PNG.
pub fn encode_gray(rows: u32, cols: u32, pixels: &[u8]) -> Result<Vec<u8>> {
    if rows == 0 || cols == 0 {
        return Err(DatasetError::Shape {
            reason: format!("a PNG cannot be {rows}x{cols} pixels"),
        });
    }
    if pixels.len() as u64 != u64::from(rows) * u64::from(cols) {
        return Err(DatasetError::Shape {
            reason: format!("{} pixels is not one {rows}x{cols} image", pixels.len()),
        });
    }
    let mut out = Vec::with_capacity(pixels.len() / 2 + 128);
    let mut encoder = png::Encoder::new(&mut out, cols, rows);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

/// Decodes a PNG into `(rows, cols, grey pixels)`.
///
/// Accepts greyscale, grey+alpha, RGB, RGBA and palette images of any bit depth.
/// Colour is converted with luma = 0.299 R + 0.587 G + 0.114 B (rounded), alpha is
/// ignored, 16-bit samples keep their high byte, and palettes are expanded.
pub fn decode_gray(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>)> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(png_err)?;
    let (width, height) = {
        let info = reader.info();
        (info.width, info.height)
    };
    let n_pixels = u64::from(width) * u64::from(height);
    if n_pixels > MAX_PIXELS {
        return Err(png_err(format!(
            "{width}x{height} image is larger than the limit of {MAX_PIXELS} pixels"
        )));
    }
    // Even at 1 bit per pixel, the compressed data must hold n_pixels / 8 bytes.
    if n_pixels / 8 > (bytes.len() as u64).saturating_mul(MAX_DEFLATE_RATIO) + 65_536 {
        return Err(png_err(format!(
            "header declares {width}x{height} pixels but the file has only {} bytes",
            bytes.len()
        )));
    }
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| png_err("image too large"))?;
    let mut buf = vec![0u8; size];
    let frame = reader.next_frame(&mut buf).map_err(png_err)?;
    // Read on to IEND so that a file cut after its image data is still reported.
    reader.finish().map_err(png_err)?;
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(png_err(format!(
            "unexpected bit depth {:?} after normalisation",
            frame.bit_depth
        )));
    }
    let channels = match frame.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => {
            return Err(png_err(format!(
                "unexpected colour type {other:?} after normalisation"
            )));
        }
    };
    let (w, h) = (frame.width as usize, frame.height as usize);
    let line = frame.line_size;
    if line < w * channels || buf.len() < line * h {
        return Err(png_err("decoded frame is smaller than its declared size"));
    }
    let mut grey = Vec::with_capacity(w * h);
    for row in buf.chunks_exact(line).take(h) {
        let row = &row[..w * channels];
        match channels {
            1 => grey.extend_from_slice(row),
            2 => grey.extend(row.chunks_exact(2).map(|p| p[0])),
            _ => grey.extend(row.chunks_exact(channels).map(|p| luma(p[0], p[1], p[2]))),
        }
    }
    Ok((frame.height, frame.width, grey))
}

/// Rec. 601 luma `0.299 R + 0.587 G + 0.114 B`, rounded to the nearest integer.
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let y = 299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b);
    // y <= 255_000, so the result fits in a u8.
    ((y + 500) / 1000) as u8
}

/// The class label of an object key: the name of the directory holding the file.
///
/// `".../mnist-2k/7/000123.png"` gives 7. Both `/` and `\` separate components.
/// Fails with [`DatasetError::BadLabel`] if there is no parent directory or its
/// name is not an integer 0..=255.
pub fn label_from_key(key: &str) -> Result<u8> {
    let bad = |reason: String| DatasetError::BadLabel {
        key: key.to_string(),
        reason,
    };
    let mut parts = key.rsplit(['/', '\\']);
    let file = parts.next().unwrap_or("");
    if file.is_empty() {
        return Err(bad("the key names a directory, not a file".to_string()));
    }
    let dir = parts
        .next()
        .ok_or_else(|| bad("the file has no parent directory naming its class".to_string()))?;
    if dir.is_empty() || dir.len() > 3 || !dir.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!(
            "parent directory {dir:?} is not a class number 0..=255"
        )));
    }
    dir.parse::<u8>()
        .map_err(|_| bad(format!("class {dir:?} is larger than 255")))
}

/// The relative key of image `index` with class `label`: `"{label}/{index:05}.png"`.
pub fn image_key(index: usize, label: u8) -> String {
    format!("{label}/{index:05}.png")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luma_extremes() {
        assert_eq!(luma(0, 0, 0), 0);
        assert_eq!(luma(255, 255, 255), 255);
        assert_eq!(luma(255, 0, 0), 76);
        assert_eq!(luma(0, 255, 0), 150);
        assert_eq!(luma(0, 0, 255), 29);
    }

    #[test]
    fn keys() {
        assert_eq!(image_key(123, 7), "7/00123.png");
        assert_eq!(image_key(1_234_567, 0), "0/1234567.png");
        assert_eq!(label_from_key(&image_key(5, 9)).unwrap(), 9);
    }

    #[test]
    fn encode_checks_shape() {
        assert!(encode_gray(0, 2, &[]).is_err());
        assert!(encode_gray(2, 2, &[0; 3]).is_err());
    }
}
