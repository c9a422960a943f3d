//! Box plots: one box per group along x, or several boxes side by side per category (a hue per
//! series, with a legend), on a linear or logarithmic value axis.
//!
//! The boxes are drawn from [`BoxStats`] by hand rather than with plotters' `Boxplot` element:
//! that one ends its whiskers at the fences themselves instead of at the most extreme values
//! within them, draws no outliers, and takes only discrete positions, where hues need offsets.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::coord::ranged1d::{
    AsRangedCoord, KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter,
};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::FAMILY;
use crate::output::{self, Draw, DrawResult};
use crate::range::{padded, padded_log};
use crate::style::{
    DESC_SIZE, LABEL_SIZE, LEGEND_ROW, LEGEND_TOP, MARGIN, MAX_SIDE, PALETTE, TITLE_SIZE, Titles,
    legend_label, legend_width, text_width,
};
use crate::{BoxStats, ChartError, Format};

/// The scale of the value (y) axis.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scale {
    /// Evenly spaced values.
    #[default]
    Linear,
    /// Evenly spaced powers of ten, for values over several orders of magnitude. Every value must
    /// then be positive; drawing fails with [`ChartError::NotPositive`] otherwise.
    Log,
}

/// A box plot: categories along x, and per category one box for each series ("hue").
///
/// Values are pushed one by one, as benchmark rows are read ([`push`](BoxPlot::push) for a single
/// series, [`push_hued`](BoxPlot::push_hued) for several), or a group at a time with
/// [`group`](BoxPlot::group). Categories and series appear in the order they are first named;
/// [`categories`](BoxPlot::categories) and [`hues`](BoxPlot::hues) fix that order up front, and
/// a category named but never given a value keeps its (empty) slot. Non-finite values are left
/// out and counted ([`non_finite`](BoxPlot::non_finite)).
///
/// A box spans the quartiles with a line at the median; whiskers reach the most extreme values
/// within 1.5 interquartile ranges (Tukey); values beyond are drawn as hollow circles; the mean,
/// when asked for, is a black triangle. A legend column lists the series when there are several
/// or the only one is named, and the mean marker when it is drawn.
#[derive(Debug, Clone)]
pub struct BoxPlot<'a> {
    titles: Titles<'a>,
    categories: Vec<String>,
    category_index: HashMap<String, usize>,
    hues: Vec<String>,
    hue_index: HashMap<String, usize>,
    /// The values of category `c` and hue `h`: `values[c][h]`, each inner list as long as `hues`
    /// once drawn (shorter lists are padded with empty groups when read).
    values: Vec<Vec<Vec<f64>>>,
    non_finite: usize,
    scale: Scale,
    show_mean: bool,
}

/// Width of one box's slot per hue, in pixels, before the plot is stretched to its minimum width.
const HUE_SLOT: u32 = 24;
/// The plot's least width, axis labels included.
const MIN_PLOT_WIDTH: u32 = 640;
/// Height of the plot area when category labels are horizontal.
const PLOT_HEIGHT: u32 = 600;
/// The part of a category's slot its boxes share; the rest separates categories.
const BAND: f64 = 0.8;
/// The part of a hue's share its box fills; the rest separates the boxes of a category.
const BOX_FILL: f64 = 0.8;

impl<'a> BoxPlot<'a> {
    /// An empty box plot under `titles`, linear, without mean markers.
    pub fn new(titles: Titles<'a>) -> Self {
        Self {
            titles,
            categories: Vec::new(),
            category_index: HashMap::new(),
            hues: Vec::new(),
            hue_index: HashMap::new(),
            values: Vec::new(),
            non_finite: 0,
            scale: Scale::Linear,
            show_mean: false,
        }
    }

    /// Declares categories in the order they are drawn, before or after values are pushed; those
    /// already known keep their place.
    pub fn categories<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            self.category(name.as_ref());
        }
        self
    }

    /// Declares series (hues) in the order they are drawn within each category and listed in the
    /// legend; those already known keep their place.
    pub fn hues<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in names {
            self.hue(name.as_ref());
        }
        self
    }

    /// Adds the values of `category` (to the unnamed series): the one-box-per-group form.
    pub fn group(mut self, category: &str, values: impl IntoIterator<Item = f64>) -> Self {
        for value in values {
            self.push(category, value);
        }
        self
    }

    /// Adds one value to `category`, in the unnamed series.
    pub fn push(&mut self, category: &str, value: f64) {
        self.push_hued(category, "", value);
    }

    /// Adds one value to the box of series `hue` in `category`.
    pub fn push_hued(&mut self, category: &str, hue: &str, value: f64) {
        let c = self.category(category);
        let h = self.hue(hue);
        if !value.is_finite() {
            self.non_finite += 1;
            return;
        }
        let row = &mut self.values[c];
        if row.len() <= h {
            row.resize_with(h + 1, Vec::new);
        }
        row[h].push(value);
    }

    /// Chooses the scale of the value axis (linear by default).
    pub fn scale(mut self, scale: Scale) -> Self {
        self.scale = scale;
        self
    }

    /// Draws (or not) each box's mean as a triangle (not drawn by default).
    pub fn mean(mut self, show: bool) -> Self {
        self.show_mean = show;
        self
    }

    /// How many non-finite values were pushed and left out.
    pub fn non_finite(&self) -> usize {
        self.non_finite
    }

    /// The summary of the box of series `hue` (`""` for the unnamed one) in `category`; `None`
    /// when either is unknown or the box holds no value.
    pub fn stats(&self, category: &str, hue: &str) -> Option<BoxStats> {
        let c = *self.category_index.get(category)?;
        let h = *self.hue_index.get(hue)?;
        BoxStats::new(self.values(c, h))
    }

    /// Writes the box plot to `path`, as SVG or PNG according to its extension.
    pub fn write(&self, path: &Path) -> Result<(), ChartError> {
        output::write(self, path)
    }

    /// Writes the box plot to `{stem}.svg` and `{stem}.png` and returns the two paths.
    pub fn write_both(&self, stem: &Path) -> Result<[PathBuf; 2], ChartError> {
        output::write_both(self, stem)
    }

    /// The box plot as an SVG document.
    pub fn render_svg(&self) -> Result<String, ChartError> {
        output::render_svg(self)
    }

    /// The box plot as the bytes of a PNG file.
    pub fn render_png(&self) -> Result<Vec<u8>, ChartError> {
        output::render_png(self)
    }

    /// The box plot in `format`: the SVG's text as bytes, or the PNG file's bytes.
    pub fn render(&self, format: Format) -> Result<Vec<u8>, ChartError> {
        output::render(self, format)
    }

    fn category(&mut self, name: &str) -> usize {
        if let Some(&i) = self.category_index.get(name) {
            return i;
        }
        self.categories.push(name.to_string());
        self.category_index
            .insert(name.to_string(), self.categories.len() - 1);
        self.values.push(Vec::new());
        self.categories.len() - 1
    }

    fn hue(&mut self, name: &str) -> usize {
        if let Some(&i) = self.hue_index.get(name) {
            return i;
        }
        self.hues.push(name.to_string());
        self.hue_index.insert(name.to_string(), self.hues.len() - 1);
        self.hues.len() - 1
    }

    fn values(&self, c: usize, h: usize) -> &[f64] {
        self.values
            .get(c)
            .and_then(|row| row.get(h))
            .map_or(&[], Vec::as_slice)
    }

    /// The number of hues drawn per category (at least one, so an empty plot has slots).
    fn hue_count(&self) -> usize {
        self.hues.len().max(1)
    }

    /// Whether the legend lists the series: there are several, or the only one has a name.
    fn legend_hues(&self) -> bool {
        self.hues.len() > 1 || self.hues.first().is_some_and(|h| !h.is_empty())
    }

    fn legend_entries(&self) -> Vec<&str> {
        let mut entries: Vec<&str> = Vec::new();
        if self.legend_hues() {
            entries.extend(self.hues.iter().map(String::as_str));
        }
        if self.show_mean {
            entries.push("mean");
        }
        entries
    }

    fn legend_width(&self) -> u32 {
        let entries = self.legend_entries();
        if entries.is_empty() {
            0
        } else {
            legend_width(entries.into_iter())
        }
    }

    /// The name of a box in messages: its category, and its series when there are several.
    fn group_name(&self, c: usize, h: usize) -> String {
        let category = self.categories.get(c).map_or("", String::as_str);
        match self.hues.get(h) {
            Some(hue) if !hue.is_empty() => format!("{category}, {hue}"),
            _ => category.to_string(),
        }
    }

    /// Every box with data: its category, hue and summary.
    fn boxes(&self) -> Vec<(usize, usize, BoxStats)> {
        let mut boxes = Vec::new();
        for c in 0..self.categories.len() {
            for h in 0..self.hues.len() {
                if let Some(stats) = BoxStats::new(self.values(c, h)) {
                    boxes.push((c, h, stats));
                }
            }
        }
        boxes
    }

    /// The layout in pixels: the plot's inner width, each category's slot, and the height of the
    /// area under the plot holding the category labels (taller when they stand vertically).
    fn layout(&self) -> Layout {
        let n = self.categories.len().max(1) as u32;
        let widest = self
            .categories
            .iter()
            .map(|c| text_width(c, LABEL_SIZE))
            .max()
            .unwrap_or(0);
        let wanted = (self.hue_count() as u32 * HUE_SLOT + 24)
            .max(widest + 12)
            .clamp(56, 160);
        let max_inner = MAX_SIDE - self.legend_width() - Y_LABEL_AREA - 2 * MARGIN;
        let inner = n
            .saturating_mul(wanted)
            .clamp(MIN_PLOT_WIDTH - Y_LABEL_AREA - 2 * MARGIN, max_inner);
        let slot = inner / n;
        let vertical = widest + 8 > slot;
        let label_area = if vertical {
            (widest + 12).min(300) + DESC_SIZE + 20
        } else {
            45
        };
        Layout {
            inner,
            vertical,
            label_area,
        }
    }

    /// Draws the plot on `area`: axes with the value axis `y`, and `boxes`.
    fn draw_plot<DB, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        layout: &Layout,
        boxes: &[(usize, usize, BoxStats)],
        y: Y,
    ) -> DrawResult<(), DB>
    where
        DB: DrawingBackend,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let n = self.categories.len().max(1);
        let x = CategoryAxis {
            inner: (0.0..n as f64).into(),
            categories: self.categories.len(),
        };
        let mut ctx = ChartBuilder::on(area)
            .caption(self.titles.title, (FAMILY, TITLE_SIZE))
            .margin(MARGIN)
            .x_label_area_size(layout.label_area)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x, y)?;

        // plotters places bottom labels centred under their tick whatever their style says, which
        // for vertical labels would centre them on the axis; those are drawn below instead.
        let label_style = TextStyle::from((FAMILY, LABEL_SIZE).into_font());
        let category_label = |x: &f64| match self.categories.get(x.floor().max(0.0) as usize) {
            Some(label) if !layout.vertical => label.clone(),
            _ => String::new(),
        };
        ctx.configure_mesh()
            .disable_x_mesh()
            .x_desc(self.titles.x_label)
            .y_desc(self.titles.y_label)
            .axis_desc_style((FAMILY, DESC_SIZE))
            .label_style(label_style.clone())
            .x_label_formatter(&category_label)
            .y_label_formatter(&|v: &f64| format_tick(*v))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        if layout.vertical {
            let vertical = label_style
                .transform(FontTransform::Rotate270)
                .pos(Pos::new(HPos::Right, VPos::Center));
            let y = ctx.as_coord_spec().get_y_range().start;
            let (base_x, base_y) = area.get_base_pixel();
            let bottom = ctx.plotting_area().get_pixel_range().1.end - base_y;
            for (i, label) in self.categories.iter().enumerate() {
                let (x, _) = ctx.backend_coord(&(i as f64 + 0.5, y));
                area.draw(&Text::new(
                    label.as_str(),
                    (x - base_x, bottom + 8),
                    &vertical,
                ))?;
            }
        }

        let hues = self.hue_count() as f64;
        let share = BAND / hues;
        let half = share * BOX_FILL / 2.0;
        for (c, h, stats) in boxes {
            let (c, h) = (*c, *h);
            let centre = c as f64 + (1.0 - BAND) / 2.0 + (h as f64 + 0.5) * share;
            let color = PALETTE[h % PALETTE.len()];
            let edge = color.stroke_width(1);
            let whisker =
                |from: f64, to: f64| PathElement::new([(centre, from), (centre, to)], edge);
            let cap = |at: f64| {
                PathElement::new([(centre - half / 2.0, at), (centre + half / 2.0, at)], edge)
            };
            ctx.draw_series([
                whisker(stats.q3, stats.whisker_high),
                whisker(stats.q1, stats.whisker_low),
                cap(stats.whisker_high),
                cap(stats.whisker_low),
            ])?;
            let corners = [(centre - half, stats.q3), (centre + half, stats.q1)];
            ctx.draw_series([
                Rectangle::new(corners, tint(color).filled()),
                Rectangle::new(corners, edge),
            ])?;
            ctx.draw_series([PathElement::new(
                [(centre - half, stats.median), (centre + half, stats.median)],
                shade(color).stroke_width(2),
            )])?;
            ctx.draw_series(
                stats
                    .outliers
                    .iter()
                    .map(|&v| Circle::new((centre, v), 3, edge)),
            )?;
            if self.show_mean && stats.mean.is_finite() {
                ctx.draw_series([TriangleMarker::new((centre, stats.mean), 5, BLACK.filled())])?;
            }
        }
        Ok(())
    }

    fn draw_legend<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        let x0 = 8;
        let mut y = LEGEND_TOP;
        if self.legend_hues() {
            for (h, hue) in self.hues.iter().enumerate() {
                let color = PALETTE[h % PALETTE.len()];
                let corners = [(x0 + 4, y - 6), (x0 + 24, y + 6)];
                area.draw(&Rectangle::new(corners, tint(color).filled()))?;
                area.draw(&Rectangle::new(corners, color.stroke_width(1)))?;
                area.draw(&PathElement::new(
                    [(x0 + 4, y), (x0 + 24, y)],
                    shade(color).stroke_width(2),
                ))?;
                legend_label(area, (x0, y), hue)?;
                y += LEGEND_ROW as i32;
            }
        }
        if self.show_mean {
            area.draw(&TriangleMarker::new((x0 + 14, y), 5, BLACK.filled()))?;
            legend_label(area, (x0, y), "mean")?;
        }
        Ok(())
    }
}

/// Width of the area left of the plot holding the value labels and the axis description.
const Y_LABEL_AREA: u32 = 70;

/// The x axis: category `i` spans `i..i + 1`, with its tick and label at `i + 0.5`.
///
/// plotters' `WithKeyPoints` would place the ticks, but lacks the `ValueFormatter` that drawing
/// the mesh needs.
struct CategoryAxis {
    inner: RangedCoordf64,
    categories: usize,
}

impl Ranged for CategoryAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            (0..self.categories).map(|i| i as f64 + 0.5).collect()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

impl ValueFormatter<f64> for CategoryAxis {
    fn format(value: &f64) -> String {
        format_tick(*value)
    }
}

/// Where things go, in pixels; see [`BoxPlot::layout`].
struct Layout {
    inner: u32,
    vertical: bool,
    label_area: u32,
}

/// The light, opaque fill of a box of `color`: a third of the colour on white.
fn tint(color: RGBColor) -> RGBColor {
    let mix = |c: u8| 255 - ((255 - u32::from(c)) / 3) as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

/// The darker line of a box's median: 60% of `color`.
fn shade(color: RGBColor) -> RGBColor {
    let dark = |c: u8| (u32::from(c) * 3 / 5) as u8;
    RGBColor(dark(color.0), dark(color.1), dark(color.2))
}

/// A tick label: up to four decimals without trailing zeros, or scientific notation for very
/// large and very small magnitudes.
fn format_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".to_string();
    }
    if !(1e-3..1e6).contains(&v.abs()) {
        return format!("{v:.1e}").replace(".0e", "e");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

impl Draw for BoxPlot<'_> {
    fn title(&self) -> &str {
        self.titles.title
    }

    fn size(&self) -> (u32, u32) {
        let layout = self.layout();
        let width = layout.inner + Y_LABEL_AREA + 2 * MARGIN + self.legend_width();
        let legend = 2 * MARGIN + 40 + self.legend_entries().len() as u32 * LEGEND_ROW;
        let height = (PLOT_HEIGHT - 45 + layout.label_area)
            .max(legend)
            .min(MAX_SIDE);
        (width.min(MAX_SIDE), height)
    }

    fn check(&self) -> Result<(), ChartError> {
        if self.scale != Scale::Log {
            return Ok(());
        }
        for (c, row) in self.values.iter().enumerate() {
            for (h, values) in row.iter().enumerate() {
                if let Some(&value) = values.iter().find(|v| **v <= 0.0) {
                    return Err(ChartError::NotPositive {
                        title: self.titles.title.to_string(),
                        group: self.group_name(c, h),
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        let layout = self.layout();
        let (width, _) = root.dim_in_pixel();
        let (plot_area, legend_area) = root.split_horizontally(width - self.legend_width());
        let boxes = self.boxes();
        let low = boxes
            .iter()
            .map(|b| b.2.extent().0)
            .fold(f64::INFINITY, f64::min);
        let high = boxes
            .iter()
            .map(|b| b.2.extent().1)
            .fold(f64::NEG_INFINITY, f64::max);
        match self.scale {
            Scale::Linear => self.draw_plot(&plot_area, &layout, &boxes, padded(low, high))?,
            Scale::Log => self.draw_plot(
                &plot_area,
                &layout,
                &boxes,
                padded_log(low, high).log_scale(),
            )?,
        }
        self.draw_legend(&legend_area)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles() -> Titles<'static> {
        Titles {
            title: "time per dataset",
            x_label: "dataset",
            y_label: "seconds",
        }
    }

    /// The `<rect>` elements filled with the tint of series `h`: one per box, and one per
    /// legend entry of the series.
    fn boxes_of(svg: &str, h: usize) -> Vec<&str> {
        let RGBColor(r, g, b) = tint(PALETTE[h]);
        let fill = format!("fill=\"#{r:02X}{g:02X}{b:02X}\"");
        svg.split("<rect")
            .skip(1)
            .filter(|e| e.contains(&fill))
            .collect()
    }

    fn x_of(rect: &str) -> i32 {
        let start = rect.find("x=\"").map_or(0, |i| i + 3);
        rect[start..]
            .split('"')
            .next()
            .and_then(|x| x.parse().ok())
            .unwrap_or(-1)
    }

    #[test]
    fn one_box_per_group_in_the_declared_order() {
        let plot = BoxPlot::new(titles())
            .categories(["zeta", "alpha", "nothing"])
            .group("alpha", [1.0, 2.0, 3.0, 4.0])
            .group("zeta", [5.0, 6.0, 7.0, 50.0])
            .group("new", [2.5]);
        let svg = plot.render_svg().unwrap();
        // Four categories, three with data; no legend for a single unnamed series.
        assert_eq!(boxes_of(&svg, 0).len(), 3);
        assert_eq!(boxes_of(&svg, 1).len(), 0);
        let at = |label: &str| svg.find(&format!(">\n{label}\n<")).unwrap();
        assert!(
            at("zeta") < at("alpha") && at("alpha") < at("nothing") && at("nothing") < at("new")
        );
        assert!(!svg.contains("mean"));
        // The outlier 50 of zeta is a hollow circle.
        assert_eq!(svg.matches("<circle").count(), 1);
        assert_eq!(plot.stats("zeta", "").unwrap().outliers, vec![50.0]);
        assert_eq!(plot.stats("nothing", ""), None);
        assert_eq!(plot.stats("unknown", ""), None);
    }

    #[test]
    fn hued_boxes_stand_side_by_side_with_a_legend() {
        let mut plot = BoxPlot::new(titles()).hues(["cold", "warm"]).mean(true);
        for (i, memory) in ["128", "512", "1024"].iter().enumerate() {
            for k in 0..10 {
                let k = f64::from(k);
                plot.push_hued(memory, "warm", 10.0 + k + i as f64);
                plot.push_hued(memory, "cold", 500.0 + 10.0 * k);
            }
        }
        let svg = plot.render_svg().unwrap();
        // Three boxes each, and a legend patch.
        let (cold, warm) = (boxes_of(&svg, 0), boxes_of(&svg, 1));
        assert_eq!((cold.len(), warm.len()), (4, 4));
        for (c, w) in cold.iter().zip(&warm).take(3) {
            assert!(x_of(c) < x_of(w), "cold {} warm {}", x_of(c), x_of(w));
        }
        for label in ["cold", "warm", "mean", "128", "512", "1024"] {
            assert!(svg.contains(&format!(">\n{label}\n<")), "no {label}");
        }
        assert_eq!(plot.stats("512", "warm").unwrap().median, 15.5);
    }

    #[test]
    fn many_groups_narrow_their_boxes_and_turn_their_labels() {
        let mut plot = BoxPlot::new(titles());
        for g in 0..400 {
            for k in 0..5 {
                plot.push(&format!("configuration number {g}"), f64::from(g * k));
            }
        }
        let (width, height) = plot.size();
        assert_eq!(width, MAX_SIDE);
        assert!(height > PLOT_HEIGHT, "{height}");
        let svg = plot.render_svg().unwrap();
        assert_eq!(boxes_of(&svg, 0).len(), 400);
        assert!(svg.contains("configuration number 399"));
        assert!(svg.matches("rotate(270").count() >= 400);
        let png = plot.render_png().unwrap();
        assert!(png.starts_with(b"\x89PNG"));
    }

    #[test]
    fn empty_and_non_finite_data_draw_empty_slots() {
        let empty = BoxPlot::new(titles());
        assert!(empty.render_svg().unwrap().contains("time per dataset"));
        assert!(empty.render_png().unwrap().starts_with(b"\x89PNG"));
        let mut plot = BoxPlot::new(titles()).scale(Scale::Log);
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            plot.push("broken", v);
        }
        plot.push("one", 3.0);
        assert_eq!(plot.non_finite(), 3);
        let svg = plot.render_svg().unwrap();
        assert!(svg.contains(">\nbroken\n<") && svg.contains(">\none\n<"));
        assert_eq!(boxes_of(&svg, 0).len(), 1);
    }

    #[test]
    fn a_log_scale_rejects_values_it_cannot_show() {
        let plot = BoxPlot::new(titles())
            .hues(["cold", "warm"])
            .group("ok", [1.0, 10.0]);
        let mut plot = plot.scale(Scale::Log);
        plot.push_hued("bad", "warm", 0.0);
        let err = plot.render_png().unwrap_err();
        assert!(
            matches!(&err, ChartError::NotPositive { group, value, .. } if group == "bad, warm" && *value == 0.0),
            "{err:?}"
        );
        assert!(err.to_string().contains("'bad, warm'"), "{err}");
        let svg = plot.scale(Scale::Linear).render_svg().unwrap();
        assert!(svg.contains(">\nbad\n<"));
    }

    #[test]
    fn log_ticks_read_as_plain_numbers() {
        let plot = BoxPlot::new(titles())
            .scale(Scale::Log)
            .group("wide", [3.0, 40.0, 500.0, 7000.0]);
        let svg = plot.render_svg().unwrap();
        for tick in ["10", "100", "1000"] {
            assert!(svg.contains(&format!(">\n{tick}\n<")), "no tick {tick}");
        }
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(2.5), "2.5");
        assert_eq!(format_tick(1000.0), "1000");
        assert_eq!(format_tick(0.1 + 0.2), "0.3");
        assert_eq!(format_tick(-0.00001), "-1e-5");
        assert_eq!(format_tick(2e7), "2e7");
        assert_eq!(format_tick(1.5e9), "1.5e9");
    }
}
