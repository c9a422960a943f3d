//! Charts of the repository's real benchmark rows, written to files and read back: the SVG's
//! text and elements, the PNG decoded pixel by pixel; and the ways writing a chart fails.

use std::collections::HashSet;
use std::error::Error as _;
use std::path::{Path, PathBuf};

use faasml_charts::{BoxPlot, ChartError, Format, HLine, LineChart, Series, Titles};

/// The fill of the first series' boxes: Tableau blue (31, 119, 180) at a third on white.
const BLUE_BOX_FILL: [u8; 3] = [0xB5, 0xD2, 0xE6];

/// `(dataset, total_s)` of every row of `bench/results/ml-training-2026-11.csv`, the dated end-to-end results of
/// the ML training workflow.
fn training_rows() -> Vec<(String, f64)> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/results/ml-training-2026-11.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (dataset, total) = (column("dataset"), column("total_s"));
    reader
        .records()
        .map(|row| {
            let row = row.unwrap();
            (row[dataset].to_string(), row[total].parse().unwrap())
        })
        .collect()
}

fn training_plot(rows: &[(String, f64)]) -> BoxPlot<'static> {
    let mut plot = BoxPlot::new(Titles {
        title: "ML training: end-to-end time per dataset",
        x_label: "dataset",
        y_label: "total (s)",
    })
    .mean(true);
    for (dataset, total) in rows {
        plot.push(dataset, *total);
    }
    plot
}

/// A decoded PNG: width, height and RGB pixels.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Self {
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Rgb, png::BitDepth::Eight)
        );
        rgb.truncate(info.buffer_size());
        Self {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixels(&self) -> impl Iterator<Item = [u8; 3]> + '_ {
        self.rgb.chunks_exact(3).map(|p| [p[0], p[1], p[2]])
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y * self.width + x) as usize * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    fn count(&self, color: [u8; 3]) -> usize {
        self.pixels().filter(|p| *p == color).count()
    }
}

/// The `width` and `height` attributes of an SVG's root element.
fn svg_size(svg: &str) -> (u32, u32) {
    let root = &svg[..svg.find('>').unwrap()];
    let attribute = |name: &str| -> u32 {
        let start = root.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        root[start..].split('"').next().unwrap().parse().unwrap()
    };
    (attribute("width"), attribute("height"))
}

#[test]
fn box_plot_of_the_training_benchmark_as_svg_and_png() {
    let rows = training_rows();
    let datasets: Vec<&str> = {
        let mut seen = HashSet::new();
        rows.iter()
            .map(|(d, _)| d.as_str())
            .filter(|d| seen.insert(*d))
            .collect()
    };
    assert!(datasets.len() >= 3, "{datasets:?}");
    let plot = training_plot(&rows);

    // The summary is that of the rows: the median of each dataset's total times.
    for dataset in &datasets {
        let mut totals: Vec<f64> = rows
            .iter()
            .filter(|r| r.0 == *dataset)
            .map(|r| r.1)
            .collect();
        totals.sort_by(f64::total_cmp);
        let n = totals.len();
        let median = (totals[(n - 1) / 2] + totals[n / 2]) / 2.0;
        let stats = plot.stats(dataset, "").unwrap();
        assert_eq!(stats.count, n, "{dataset}");
        assert!(
            (stats.median - median).abs() < 1e-12,
            "{dataset}: {stats:?}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let [svg_path, png_path] = plot.write_both(&dir.path().join("ml-training")).unwrap();
    assert_eq!(svg_path, dir.path().join("ml-training.svg"));
    assert_eq!(png_path, dir.path().join("ml-training.png"));

    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"));
    for label in [
        "ML training: end-to-end time per dataset",
        "dataset",
        "total (s)",
        "mean",
    ] {
        assert!(
            svg.contains(&format!(">\n{label}\n<")),
            "no '{label}' in the SVG"
        );
    }
    // Each dataset has its label and one box: a filled rectangle, its outline, a median line.
    let fill = format!(
        "fill=\"#{:02X}{:02X}{:02X}\"",
        BLUE_BOX_FILL[0], BLUE_BOX_FILL[1], BLUE_BOX_FILL[2]
    );
    for dataset in &datasets {
        assert!(
            svg.contains(&format!(">\n{dataset}\n<")),
            "no label {dataset}"
        );
    }
    assert_eq!(svg.matches(&fill).count(), datasets.len());
    assert_eq!(
        svg.matches("fill=\"none\" stroke=\"#1F77B4\"").count(),
        datasets.len()
    );

    // The PNG has the SVG's size, a white background, and the boxes' colours.
    let png = Image::read(&png_path);
    assert_eq!((png.width, png.height), svg_size(&svg));
    assert!(png.width >= 640 && png.height >= 600);
    assert_eq!(png.pixel(0, 0), [255, 255, 255]);
    let white = png.count([255, 255, 255]);
    assert!(white < png.pixels().count() * 99 / 100, "nearly blank");
    assert!(
        png.count(BLUE_BOX_FILL) > 500,
        "{}",
        png.count(BLUE_BOX_FILL)
    );
    assert!(png.count([31, 119, 180]) > 50, "no box outlines");
    assert!(png.count([0, 0, 0]) > 200, "no text or axes");
    let colours: HashSet<[u8; 3]> = png.pixels().collect();
    assert!(colours.len() >= 8, "{} colours", colours.len());
}

#[test]
fn line_chart_as_png() {
    let series: Vec<Series> = (0..12)
        .map(|i| {
            let points = (0..=10)
                .map(|k| {
                    (
                        f64::from(k),
                        0.5 + 0.04 * f64::from(k) - 0.01 * f64::from(i),
                    )
                })
                .collect();
            Series::new(format!("{i} workers"), points)
        })
        .collect();
    let titles = Titles {
        title: "accuracy over time",
        x_label: "seconds",
        y_label: "accuracy",
    };
    let target = HLine {
        y: 0.8,
        label: "target",
    };
    let chart = LineChart::new(titles, &series).hline(Some(target));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("accuracy.PNG");
    chart.write(&path).unwrap();
    let png = Image::read(&path);
    let svg = chart.render_svg().unwrap();
    assert_eq!((png.width, png.height), svg_size(&svg));
    assert_eq!(png.pixel(0, 0), [255, 255, 255]);
    // The series colours are drawn in full (lines, markers, legend), not only blended edges.
    for colour in [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [23, 190, 207],
    ] {
        assert!(png.count(colour) > 100, "{colour:?}: {}", png.count(colour));
    }
    let colours: HashSet<[u8; 3]> = png.pixels().collect();
    assert!(colours.len() >= 12, "{} colours", colours.len());
    assert_eq!(
        chart.render(Format::Png).unwrap(),
        std::fs::read(&path).unwrap()
    );
}

#[test]
fn unknown_extensions_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plot = training_plot(&training_rows());
    for name in ["chart.jpg", "chart", "chart.svgz"] {
        let path = dir.path().join(name);
        let err = plot.write(&path).unwrap_err();
        assert!(
            matches!(&err, ChartError::UnknownFormat { path: p } if *p == path),
            "{err:?}"
        );
        assert!(err.to_string().contains("name it .svg or .png"), "{err}");
        assert!(!path.exists());
    }
}

#[test]
fn unwritable_paths_name_the_path_and_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that is a file: unwritable even for root, unlike a read-only directory.
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let missing = dir.path().join("missing");
    let plot = training_plot(&training_rows());
    for path in [
        missing.join("chart.svg"),
        missing.join("chart.png"),
        file.join("chart.png"),
    ] {
        let err = plot.write(&path).unwrap_err();
        let ChartError::Write { path: named, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*named, path);
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        let cause = err
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .unwrap();
        assert!(
            matches!(
                cause.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ),
            "{cause:?}"
        );
    }
    let err = plot.write_both(&missing.join("chart")).unwrap_err();
    assert!(matches!(err, ChartError::Write { path, .. } if path == missing.join("chart.svg")));
}

#[test]
fn empty_and_nan_data_still_write_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    let titles = Titles {
        title: "nothing measured",
        x_label: "dataset",
        y_label: "total (s)",
    };
    let mut plot = BoxPlot::new(titles).categories(["mnist", "cifar"]);
    plot.push("mnist", f64::NAN);
    plot.push("cifar", f64::INFINITY);
    assert_eq!(plot.non_finite(), 2);
    let [svg, png]: [PathBuf; 2] = plot.write_both(&dir.path().join("empty.v2")).unwrap();
    assert_eq!(svg.file_name().unwrap(), "empty.v2.svg");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains(">\nmnist\n<") && text.contains(">\ncifar\n<"));
    let image = Image::read(&png);
    assert_eq!((image.width, image.height), svg_size(&text));
    assert_eq!(image.count(BLUE_BOX_FILL), 0);

    let nan = [Series::new("nan", vec![(f64::NAN, 0.5), (1.0, f64::NAN)])];
    let chart = LineChart::new(titles, &nan);
    let [_, png] = chart.write_both(&dir.path().join("nan-line")).unwrap();
    assert!(Image::read(&png).count([0, 0, 0]) > 100);
    let none = LineChart::new(titles, &[]);
    assert!(none.render(Format::Svg).unwrap().starts_with(b"<svg"));
}
