//! The bundled font, registered with plotters as the family every chart uses.
//!
//! plotters' `ab_glyph` feature keeps a process-wide table of fonts by family name and finds no
//! font on the system by itself, so a chart can only lay out and rasterise text once a font is
//! registered under the family it names. DejaVu Sans 2.37 (see `assets/README.md` for where the
//! file comes from, its checksum and its licence) is compiled into the crate and registered once,
//! on the first chart drawn; no font is read from the disk at run time.

use std::sync::OnceLock;

use plotters::style::FontStyle;

use crate::ChartError;

/// The family name every chart's text uses. It is also what an SVG viewer sees, so a viewer
/// without DejaVu Sans falls back to its own sans-serif font, with close metrics.
pub(crate) const FAMILY: &str = "sans-serif";

const NAME: &str = "DejaVuSans.ttf";
static DEJAVU_SANS: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the bundled font under [`FAMILY`] the first time it is called; later calls return the
/// first call's outcome.
pub(crate) fn ensure_registered() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(ChartError::Font { name: NAME })
    }
}

#[cfg(test)]
mod tests {
    use plotters::style::{FontDesc, IntoFont};

    use super::*;

    #[test]
    fn the_bundled_font_registers_and_measures_text() {
        ensure_registered().unwrap();
        let font: FontDesc<'_> = (FAMILY, 13).into_font();
        let (narrow, _) = font.box_size("iii").unwrap();
        let (wide, height) = font.box_size("WWW").unwrap();
        // Real glyph metrics, not an estimate from the character count.
        assert!(wide > 2 * narrow, "WWW {wide} px, iii {narrow} px");
        assert!(height > 5, "{height}");
    }
}
