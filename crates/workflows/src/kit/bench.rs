//! What a workflow tells the bench harness: the default grid, how often to repeat, which metrics
//! to read from a run's output, which series to chart, and which peer (a reference
//! implementation) it can be compared with in the same run.
//!
//! Grid points are command-line flags of the workflow's own parameters (`--batch-size 16,32`),
//! so a benchmark needs no parameters of its own: the harness in the CLI crosses the values,
//! parses each point with the workflow's parser, and runs it. The end-to-end time and every
//! stage's wall time come from the run report for every workflow; the spec adds what only the
//! output knows (accuracy, time to target, bytes moved).

/// A number read from a run's output.
pub struct Metric<O> {
    /// Column name, e.g. `accuracy`.
    pub name: &'static str,
    /// Unit shown in the table header (empty for plain numbers).
    pub unit: &'static str,
    /// Reads the value; `None` when the run has none (e.g. the target was not reached).
    pub value: fn(&O) -> Option<f64>,
}

/// A metric's value in one run.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricValue {
    /// Column name.
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// The value, if the run has one.
    pub value: Option<f64>,
}

/// A series of `(x, y)` points per run, charted as one line per grid point (e.g. test accuracy
/// over time).
pub struct Series<O> {
    /// Chart title (the harness appends the dataset).
    pub title: &'static str,
    /// Label of the x axis.
    pub x_label: &'static str,
    /// Label of the y axis.
    pub y_label: &'static str,
    /// CSV column names of x and y (e.g. `elapsed_s`, `accuracy`).
    pub columns: (&'static str, &'static str),
    /// Name of the flag whose value draws a dashed reference line, if any (e.g. the target).
    pub reference_flag: Option<&'static str>,
    /// The points of one run.
    pub points: fn(&O) -> Vec<(f64, f64)>,
}

/// A reference implementation to measure beside faasml in the same run (`--compare NAME`).
#[derive(Debug, Clone)]
pub struct Peer {
    /// Its name on the command line, e.g. `sklearn`.
    pub name: &'static str,
    /// What it needs, for the message when it cannot run.
    pub needs: &'static str,
    /// A command that succeeds when the peer can run here (checked once, before the benchmark).
    pub probe: &'static [&'static str],
    /// The command for one grid point (program and arguments), from the point's parameters as
    /// JSON; `None` when the peer cannot run that point. `{bench}` in an argument stands for
    /// the repository's `bench/` directory.
    pub command: fn(&serde_json::Value) -> Option<Vec<String>>,
    /// Reads `(metric, value)` pairs from the peer's standard output.
    pub parse: fn(&str) -> Vec<(&'static str, f64)>,
}

/// How `faasml bench <workflow>` runs by default and what it measures.
pub struct BenchSpec<O> {
    /// Default points given as flag sets, each crossed with the axes (e.g. ml-training's three
    /// datasets, the full set with 50 components). Dropped when the command line sets any flag
    /// they set. Empty: one point.
    pub cases: Vec<Vec<(&'static str, &'static str)>>,
    /// Default axes: a flag and its comma-separated values, crossed (e.g. `batch-size`,
    /// `16,32,64,128`). Replaced by the command line's value for the same flag.
    pub axes: Vec<(&'static str, &'static str)>,
    /// Flags every point gets unless the command line sets them (e.g. more evaluations per
    /// epoch, for a finer time to target).
    pub fixed: Vec<(&'static str, &'static str)>,
    /// Runs per point by default.
    pub repeats: usize,
    /// The metric that picks each point's median run and gets a box plot (a report metric such
    /// as `end_to_end_s`, or one of `metrics`).
    pub primary: &'static str,
    /// Metrics read from the output.
    pub metrics: Vec<Metric<O>>,
    /// A series to chart, if any.
    pub series: Option<Series<O>>,
    /// Peers that `--compare` can run.
    pub peers: Vec<Peer>,
    /// Whether to draw one box plot per stage (its wall time at every point), for workflows
    /// whose knobs move time between stages (e.g. transfer modes).
    pub stage_charts: bool,
}

impl<O> BenchSpec<O> {
    /// A spec with one point, three repeats, the end-to-end time as primary metric, and no
    /// output metrics: what every workflow gets before it says more.
    pub fn basic() -> Self {
        Self {
            cases: Vec::new(),
            axes: Vec::new(),
            fixed: Vec::new(),
            repeats: 3,
            primary: END_TO_END,
            metrics: Vec::new(),
            series: None,
            peers: Vec::new(),
            stage_charts: false,
        }
    }

    /// The metric values of one output.
    pub fn measure(&self, output: &O) -> Vec<MetricValue> {
        self.metrics
            .iter()
            .map(|m| MetricValue {
                name: m.name,
                unit: m.unit,
                value: (m.value)(output),
            })
            .collect()
    }

    /// The parts of the spec that do not depend on the output type.
    pub fn defaults(&self) -> BenchDefaults {
        BenchDefaults {
            cases: self.cases.clone(),
            axes: self.axes.clone(),
            fixed: self.fixed.clone(),
            repeats: self.repeats,
            primary: self.primary,
            metrics: self.metrics.iter().map(|m| (m.name, m.unit)).collect(),
            series: self.series.as_ref().map(|s| SeriesLabels {
                title: s.title,
                x_label: s.x_label,
                y_label: s.y_label,
                columns: s.columns,
                reference_flag: s.reference_flag,
            }),
            peers: self.peers.clone(),
            stage_charts: self.stage_charts,
        }
    }
}

/// The name of the end-to-end wall time metric every benchmark has.
pub const END_TO_END: &str = "end_to_end_s";

/// Labels of a series chart.
#[derive(Debug, Clone)]
pub struct SeriesLabels {
    /// Chart title.
    pub title: &'static str,
    /// X axis label.
    pub x_label: &'static str,
    /// Y axis label.
    pub y_label: &'static str,
    /// CSV column names of x and y.
    pub columns: (&'static str, &'static str),
    /// The flag whose value draws a reference line.
    pub reference_flag: Option<&'static str>,
}

/// [`BenchSpec`] without its output type: what the object-safe workflow interface returns.
#[derive(Debug, Clone)]
pub struct BenchDefaults {
    /// Default points as flag sets.
    pub cases: Vec<Vec<(&'static str, &'static str)>>,
    /// Default axes.
    pub axes: Vec<(&'static str, &'static str)>,
    /// Flags every point gets.
    pub fixed: Vec<(&'static str, &'static str)>,
    /// Runs per point.
    pub repeats: usize,
    /// The primary metric.
    pub primary: &'static str,
    /// Names and units of the output metrics.
    pub metrics: Vec<(&'static str, &'static str)>,
    /// The series chart's labels, if there is one.
    pub series: Option<SeriesLabels>,
    /// Peers.
    pub peers: Vec<Peer>,
    /// Whether to draw one box plot per stage.
    pub stage_charts: bool,
}
