//! Running a workflow: invoke its driver function on a platform and collect the run report.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::InvokeError;
use crate::function::FunctionRef;
use crate::invoker::{Invoker, RetryPolicy};
use crate::platform::Platform;
use crate::record::{Outcome, now_micros};
use crate::report::{RunMeta, RunReport, StageSummary};

/// How to run a workflow.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The workflow name, for the report and the run id.
    pub workflow: String,
    /// The parameters, recorded in the report.
    pub params: serde_json::Value,
    /// The retry policy of every invocation in the run.
    pub retry: RetryPolicy,
    /// The run id; generated from the workflow name and the time if not set.
    pub run_id: Option<String>,
    /// Where the run comes from, recorded in the report.
    pub meta: RunMeta,
}

impl RunOptions {
    /// Options for `workflow` with default retries and a generated run id.
    pub fn new(workflow: impl Into<String>) -> Self {
        Self {
            workflow: workflow.into(),
            params: serde_json::Value::Null,
            retry: RetryPolicy::default(),
            run_id: None,
            meta: RunMeta::default(),
        }
    }

    /// Records `params` in the report.
    pub fn with_params(mut self, params: serde_json::Value) -> Self {
        self.params = params;
        self
    }

    /// Uses `retry` for every invocation.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Uses `run_id` instead of a generated one.
    pub fn with_run_id(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    /// Records `meta` (build, command line, platform options, host) in the report.
    pub fn with_meta(mut self, meta: RunMeta) -> Self {
        self.meta = meta;
        self
    }
}

/// The driver's output (or why there is none) and the report of the run.
#[derive(Debug)]
pub struct RunOutcome<O> {
    /// The driver's output.
    pub output: Result<O, InvokeError>,
    /// Every measurement of the run.
    pub report: RunReport,
}

/// Runs the workflow whose driver is `driver` with `input` on `platform`; the report's `result`
/// is the driver's output.
pub async fn run<I: Serialize, O: Serialize + DeserializeOwned>(
    platform: Arc<dyn Platform>,
    driver: FunctionRef<I, O>,
    input: I,
    options: RunOptions,
) -> RunOutcome<O> {
    let run_id = options
        .run_id
        .clone()
        .unwrap_or_else(|| crate::run_id::new_run_id(&options.workflow));
    let invoker = Invoker::new(Arc::clone(&platform), &run_id, options.retry);
    let started_us = now_micros();
    let output = invoker.invoke(driver, &input).await;
    let ended_us = now_micros();
    let mut invocations = invoker.take_records();
    invocations.sort_by_key(|r| (r.start_us, r.end_us));
    let outcome = match &output {
        Ok(_) => Outcome::Ok,
        Err(e) => Outcome::Error {
            error_type: "run-failed".to_string(),
            error_message: e.to_string(),
        },
    };
    let report = RunReport {
        trace_id: crate::otlp::trace_id(&run_id),
        run_id,
        workflow: options.workflow,
        platform: platform.name().to_string(),
        started_us,
        wall_seconds: ended_us.saturating_sub(started_us) as f64 / 1e6,
        outcome,
        params: options.params,
        result: output
            .as_ref()
            .ok()
            .and_then(|o| serde_json::to_value(o).ok())
            .unwrap_or_default(),
        meta: options.meta,
        stages: StageSummary::from_records(&invocations),
        invocations,
    };
    RunOutcome { output, report }
}

/// A moment as UTC calendar date and time of day (no time-zone database needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-59.
    pub second: u32,
}

impl UtcTime {
    /// The moment `micros` microseconds after the Unix epoch.
    pub fn from_micros(micros: u64) -> Self {
        let secs = micros / 1_000_000;
        let (year, month, day) = civil_from_days((secs / 86_400) as i64);
        let rem = (secs % 86_400) as u32;
        Self {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: (rem / 60) % 60,
            second: rem % 60,
        }
    }

    /// Now.
    pub fn now() -> Self {
        Self::from_micros(now_micros())
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
        let t = UtcTime::from_micros(1_764_000_000_000_000 + 3_723_000_000);
        assert_eq!((t.year, t.month, t.day), (2025, 11, 24));
        assert_eq!((t.hour, t.minute, t.second), (17, 2, 3));
    }
}
