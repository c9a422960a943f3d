//! [`ImageSet`]: equally sized greyscale images with class labels.

use crate::{DatasetError, Result};

/// A set of equally sized greyscale images with class labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Height of every image in pixels.
    pub rows: u32,
    /// Width of every image in pixels.
    pub cols: u32,
    /// `len() * rows * cols` pixels, image after image, row-major, 0 = background.
    pub pixels: Vec<u8>,
    /// One class label per image.
    pub labels: Vec<u8>,
}

impl ImageSet {
    /// Builds a set, checking that `pixels` holds exactly one `rows x cols` image per label.
    pub fn new(rows: u32, cols: u32, pixels: Vec<u8>, labels: Vec<u8>) -> Result<Self> {
        let per_image = u64::from(rows) * u64::from(cols);
        let expected = per_image.checked_mul(labels.len() as u64);
        if expected != Some(pixels.len() as u64) {
            if per_image != 0 && (pixels.len() as u64).is_multiple_of(per_image) {
                return Err(DatasetError::Mismatch {
                    images: pixels.len() as u64 / per_image,
                    labels: labels.len() as u64,
                });
            }
            return Err(DatasetError::Shape {
                reason: format!(
                    "{} pixels is not {} images of {rows}x{cols}",
                    pixels.len(),
                    labels.len()
                ),
            });
        }
        Ok(Self {
            rows,
            cols,
            pixels,
            labels,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of pixels of one image (`rows * cols`).
    pub fn pixels_per_image(&self) -> usize {
        (self.rows as usize).saturating_mul(self.cols as usize)
    }

    /// The pixels of image `i`, row-major; panics if `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// The label of image `i`; panics if `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// Keeps only the first `n` images (all of them if there are fewer).
    pub fn take(mut self, n: usize) -> Self {
        let n = n.min(self.len());
        self.labels.truncate(n);
        self.pixels.truncate(n * self.pixels_per_image());
        self
    }

    /// The number of classes: the largest label plus one (0 for an empty set).
    pub fn n_classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
    }

    /// How many images each class has, indexed by label (length `n_classes()`).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.n_classes()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_checks_lengths() {
        assert!(ImageSet::new(2, 2, vec![0; 8], vec![1, 2]).is_ok());
        assert!(matches!(
            ImageSet::new(2, 2, vec![0; 8], vec![1]),
            Err(DatasetError::Mismatch {
                images: 2,
                labels: 1
            })
        ));
        assert!(matches!(
            ImageSet::new(2, 2, vec![0; 7], vec![1, 2]),
            Err(DatasetError::Shape { .. })
        ));
    }

    #[test]
    fn accessors() {
        let s = ImageSet::new(1, 2, vec![1, 2, 3, 4, 5, 6], vec![0, 3, 3]).unwrap();
        assert_eq!(s.len(), 3);
        assert!(!s.is_empty());
        assert_eq!(s.pixels_per_image(), 2);
        assert_eq!(s.image(1), &[3, 4]);
        assert_eq!(s.label(2), 3);
        assert_eq!(s.n_classes(), 4);
        assert_eq!(s.class_counts(), vec![1, 0, 0, 2]);
        let t = s.clone().take(2);
        assert_eq!(t.len(), 2);
        assert_eq!(t.pixels, vec![1, 2, 3, 4]);
        assert_eq!(s.take(10).len(), 3);
        let e = ImageSet::new(28, 28, vec![], vec![]).unwrap();
        assert!(e.is_empty());
        assert_eq!(e.n_classes(), 0);
    }
}
