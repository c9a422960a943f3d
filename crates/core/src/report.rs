//! The run report: every invocation record of a run, per-stage summaries, the workflow's
//! parameters and result; written as JSON and CSV and printed as a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::{InvocationRecord, Outcome};

/// Where a run came from: the build, the command, the platform options and the host, so that a
/// report read later says what produced its numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunMeta {
    /// The faasml version, e.g. `0.1.0`.
    pub faasml_version: String,
    /// The commit faasml was built from (`unknown` outside a git checkout).
    pub commit: String,
    /// The command line, program name first.
    pub command: Vec<String>,
    /// The platform options: store, state, platform, gateway, concurrency, attempts.
    pub platform: BTreeMap<String, String>,
    /// The machine the run was driven from.
    pub host: HostInfo,
}

/// The machine a run was driven from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostInfo {
    /// Host name (`$HOSTNAME` or the kernel's), if known.
    pub hostname: String,
    /// Logical cores available to the process.
    pub cores: usize,
    /// Physical memory in bytes (0 when unknown).
    pub memory_bytes: u64,
    /// Operating system, e.g. `Debian GNU/Linux 12 (bookworm)`, or Rust's name for it.
    pub os: String,
    /// CPU architecture, e.g. `x86_64`.
    pub arch: String,
}

impl HostInfo {
    /// What this process can tell about its machine (fields it cannot read stay empty).
    pub fn detect() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let memory_bytes = read("/proc/meminfo")
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024);
        let os = read("/etc/os-release")
            .lines()
            .find_map(|line| line.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| std::env::consts::OS.to_string());
        let hostname = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| read("/proc/sys/kernel/hostname").trim().to_string());
        Self {
            hostname,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
            os,
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// Everything measured in one run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The run id.
    pub run_id: String,
    /// The OpenTelemetry trace id of the run (see [`crate::otlp`]).
    pub trace_id: String,
    /// The workflow name.
    pub workflow: String,
    /// The platform that ran it.
    pub platform: String,
    /// Start of the run, in microseconds since the Unix epoch.
    pub started_us: u64,
    /// End-to-end wall time in seconds.
    pub wall_seconds: f64,
    /// Whether the run succeeded.
    pub outcome: Outcome,
    /// The workflow's parameters.
    pub params: serde_json::Value,
    /// The workflow's result (accuracy, model key, ...): the driver's output.
    pub result: serde_json::Value,
    /// Where the run came from (build, command line, platform options, host).
    #[serde(default)]
    pub meta: RunMeta,
    /// One summary per function, in order of first start.
    pub stages: Vec<StageSummary>,
    /// Every invocation attempt, in order of start.
    pub invocations: Vec<InvocationRecord>,
}

/// The invocations of one function in a run, summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    /// The function name.
    pub function: String,
    /// Successful invocations.
    pub invocations: u32,
    /// Attempts, failed ones included: `cold` and `failed` count parts of these.
    #[serde(default)]
    pub attempts: u32,
    /// Failed attempts.
    pub failed: u32,
    /// Attempts that started a new instance.
    pub cold: u32,
    /// From the first start to the last end, in seconds.
    pub wall_seconds: f64,
    /// Mean attempt duration in milliseconds.
    pub mean_ms: f64,
    /// Longest attempt in milliseconds.
    pub max_ms: f64,
    /// Bytes read from the store.
    pub bytes_read: u64,
    /// Bytes written to the store.
    pub bytes_written: u64,
}

impl StageSummary {
    /// Summaries of `records`, one per function in order of first start.
    pub fn from_records(records: &[InvocationRecord]) -> Vec<Self> {
        let mut order: Vec<&str> = Vec::new();
        for r in records {
            if !order.contains(&r.function.as_str()) {
                order.push(&r.function);
            }
        }
        order
            .into_iter()
            .map(|function| {
                let of: Vec<&InvocationRecord> =
                    records.iter().filter(|r| r.function == function).collect();
                let first = of.iter().map(|r| r.start_us).min().unwrap_or(0);
                let last = of.iter().map(|r| r.end_us).max().unwrap_or(0);
                let total_ms: f64 = of.iter().map(|r| r.duration_us() as f64 / 1e3).sum();
                Self {
                    function: function.to_string(),
                    invocations: of.iter().filter(|r| r.is_ok()).count() as u32,
                    attempts: of.len() as u32,
                    failed: of.iter().filter(|r| !r.is_ok()).count() as u32,
                    cold: of.iter().filter(|r| r.cold).count() as u32,
                    wall_seconds: last.saturating_sub(first) as f64 / 1e6,
                    mean_ms: total_ms / of.len().max(1) as f64,
                    max_ms: of
                        .iter()
                        .map(|r| r.duration_us() as f64 / 1e3)
                        .fold(0.0, f64::max),
                    bytes_read: of.iter().map(|r| r.bytes_read).sum(),
                    bytes_written: of.iter().map(|r| r.bytes_written).sum(),
                }
            })
            .collect()
    }
}

/// `1.5 MB`-style sizes (powers of 1000).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl RunReport {
    /// The per-stage table shown in the terminal.
    pub fn stage_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>6} {:>6} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "stage", "calls", "failed", "cold", "wall ms", "mean ms", "max ms", "read", "written"
        );
        // `calls` counts every attempt, so `failed` and `cold` are parts of it.
        for s in &self.stages {
            let _ = writeln!(
                out,
                "{:<28} {:>6} {:>6} {:>5} {:>10.1} {:>10.1} {:>10.1} {:>10} {:>10}",
                s.function,
                s.attempts,
                s.failed,
                s.cold,
                s.wall_seconds * 1e3,
                s.mean_ms,
                s.max_ms,
                human_bytes(s.bytes_read),
                human_bytes(s.bytes_written)
            );
        }
        let _ = write!(
            out,
            "{:<28} {:>6} {:>6} {:>5} {:>10.1}",
            "end to end",
            self.stages.iter().map(|s| s.attempts).sum::<u32>(),
            self.stages.iter().map(|s| s.failed).sum::<u32>(),
            self.stages.iter().map(|s| s.cold).sum::<u32>(),
            self.wall_seconds * 1e3
        );
        out
    }

    /// Every invocation as CSV, with times relative to the start of the run.
    ///
    /// Columns: run id, function, task (index in its fan-out), instance, parent, attempt, cold,
    /// submit/start/end in ms since the run started, queueing and running time in ms, CPU ms and
    /// peak RSS bytes of the process that ran it, bytes read and written, payload sizes, status
    /// and error.
    pub fn invocations_csv(&self) -> String {
        let mut out = csv::Writer::from_writer(Vec::new());
        let since = |us: u64| us.saturating_sub(self.started_us) as f64 / 1e3;
        let ms = |us: u64| format!("{:.3}", us as f64 / 1e3);
        let _ = out.write_record([
            "run_id",
            "function",
            "task",
            "instance",
            "parent",
            "attempt",
            "cold",
            "submit_ms",
            "start_ms",
            "end_ms",
            "queue_ms",
            "duration_ms",
            "cpu_ms",
            "peak_rss_bytes",
            "bytes_read",
            "bytes_written",
            "payload_in",
            "payload_out",
            "status",
            "error",
        ]);
        for r in &self.invocations {
            let (status, error) = match &r.outcome {
                Outcome::Ok => ("ok", String::new()),
                Outcome::Error {
                    error_type,
                    error_message,
                } => ("error", format!("{error_type}: {error_message}")),
            };
            let submit = if r.submit_us == 0 {
                String::new()
            } else {
                format!("{:.3}", since(r.submit_us))
            };
            let _ = out.write_record([
                self.run_id.clone(),
                r.function.clone(),
                r.task.map(|t| t.to_string()).unwrap_or_default(),
                r.instance.clone(),
                r.parent.clone().unwrap_or_default(),
                r.attempt.to_string(),
                r.cold.to_string(),
                submit,
                format!("{:.3}", since(r.start_us)),
                format!("{:.3}", since(r.end_us)),
                ms(r.queued_us()),
                ms(r.duration_us()),
                ms(r.cpu_us),
                r.peak_rss_bytes.to_string(),
                r.bytes_read.to_string(),
                r.bytes_written.to_string(),
                r.payload_in.to_string(),
                r.payload_out.to_string(),
                status.to_string(),
                error,
            ]);
        }
        // Writing CSV into memory cannot fail, and every field is valid UTF-8.
        let bytes = out.into_inner().unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    /// Writes `report.json` and `invocations.csv` into `dir/<run_id>/`; returns that directory.
    ///
    /// Each file is written to a temporary name and renamed, so no half-written report is left.
    pub fn write_to_dir(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let run_dir = dir.join(&self.run_id);
        std::fs::create_dir_all(&run_dir)?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&run_dir.join("report.json"), &json)?;
        write_atomically(
            &run_dir.join("invocations.csv"),
            self.invocations_csv().as_bytes(),
        )?;
        Ok(run_dir)
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(function: &str, start: u64, end: u64, cold: bool, ok: bool) -> InvocationRecord {
        InvocationRecord {
            function: function.into(),
            instance: format!("{function}-1"),
            parent: None,
            attempt: 1,
            cold,
            task: None,
            submit_us: 0,
            start_us: start,
            end_us: end,
            bytes_read: 1500,
            bytes_written: 10,
            payload_in: 2,
            payload_out: 3,
            cpu_us: 0,
            peak_rss_bytes: 0,
            outcome: if ok {
                Outcome::Ok
            } else {
                Outcome::Error {
                    error_type: "x".into(),
                    error_message: "bad, \"very\"".into(),
                }
            },
        }
    }

    #[test]
    fn stages_group_by_function_in_start_order() {
        let records = vec![
            record("b", 100, 300, true, true),
            record("a", 0, 1000, true, true),
            record("b", 200, 2100, false, false),
        ];
        let stages = StageSummary::from_records(&records);
        assert_eq!(stages[0].function, "b");
        assert_eq!(stages[0].invocations, 1);
        assert_eq!(stages[0].attempts, 2, "calls count every attempt");
        assert_eq!(stages[0].failed, 1);
        assert_eq!(stages[0].cold, 1);
        assert!((stages[0].wall_seconds - 0.002).abs() < 1e-9);
        assert_eq!(stages[0].bytes_read, 3000);
        assert_eq!(stages[1].function, "a");
    }

    #[test]
    fn csv_quotes_fields_and_table_has_every_stage() {
        let records = vec![record("a", 0, 1000, true, false)];
        let report = RunReport {
            run_id: "r".into(),
            trace_id: String::new(),
            workflow: "w".into(),
            platform: "embedded".into(),
            started_us: 0,
            wall_seconds: 0.001,
            outcome: Outcome::Ok,
            params: serde_json::Value::Null,
            result: serde_json::Value::Null,
            meta: RunMeta::default(),
            stages: StageSummary::from_records(&records),
            invocations: records,
        };
        let csv = report.invocations_csv();
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .ends_with("\"x: bad, \"\"very\"\"\"")
        );
        assert!(report.stage_table().contains("end to end"));
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }
}
