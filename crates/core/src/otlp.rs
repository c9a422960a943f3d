//! OpenTelemetry traces of a run, in the OTLP/HTTP JSON encoding.
//!
//! Spans are derived from the run report after the run: one span for the run, one per stage
//! (function), and one per invocation attempt, parented to the invocation that made it. Because
//! every platform sends its invocation records back with its responses, this gives the same trace
//! for embedded, HTTP and Lambda runs, with no tracing SDK inside the functions.
//!
//! Ids are derived from the run id, so exporting a report twice gives the same trace.

use serde_json::{Value, json};

use crate::record::{InvocationRecord, Outcome};
use crate::report::RunReport;

/// OTLP span kinds used here.
const KIND_INTERNAL: u8 = 1;
const KIND_SERVER: u8 = 2;
/// OTLP status codes.
const STATUS_OK: u8 = 1;
const STATUS_ERROR: u8 = 2;

/// A 64-bit mix of `seed` and `data` (FNV-1a, then a SplitMix64 finaliser).
fn hash64(seed: u64, data: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The trace id of a run: 32 hex digits derived from the run id.
pub fn trace_id(run_id: &str) -> String {
    format!(
        "{:016x}{:016x}",
        hash64(1, run_id.as_bytes()),
        hash64(2, run_id.as_bytes())
    )
}

fn span_id(run_id: &str, what: &str, index: usize) -> String {
    let mut data = Vec::with_capacity(run_id.len() + what.len() + 8);
    data.extend_from_slice(run_id.as_bytes());
    data.extend_from_slice(what.as_bytes());
    data.extend_from_slice(&(index as u64).to_le_bytes());
    // A span id must not be all zeros.
    format!("{:016x}", hash64(3, &data).max(1))
}

fn nanos(micros: u64) -> String {
    (u128::from(micros) * 1000).to_string()
}

fn string_attr(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

fn int_attr(key: &str, value: u64) -> Value {
    json!({"key": key, "value": {"intValue": value.to_string()}})
}

fn bool_attr(key: &str, value: bool) -> Value {
    json!({"key": key, "value": {"boolValue": value}})
}

fn status(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Ok => json!({"code": STATUS_OK}),
        Outcome::Error {
            error_type,
            error_message,
        } => json!({"code": STATUS_ERROR, "message": format!("{error_type}: {error_message}")}),
    }
}

/// The invocation that made `child`: the record of its parent instance whose interval holds the
/// child's start (instances are reused, so the instance id alone is ambiguous).
fn parent_index(records: &[InvocationRecord], child: &InvocationRecord) -> Option<usize> {
    let parent = child.parent.as_deref()?;
    records.iter().position(|r| {
        r.instance == parent
            && r.function != child.function
            && r.start_us <= child.start_us
            && child.start_us <= r.end_us
    })
}

/// The run as an OTLP/HTTP JSON `ExportTraceServiceRequest`.
pub fn otlp_json(report: &RunReport) -> Value {
    let run_id = report.run_id.as_str();
    let trace = trace_id(run_id);
    let root = span_id(run_id, "run", 0);
    let end_us = report.started_us + (report.wall_seconds * 1e6) as u64;
    let mut spans = vec![json!({
        "traceId": trace,
        "spanId": root,
        "name": format!("{} run", report.workflow),
        "kind": KIND_INTERNAL,
        "startTimeUnixNano": nanos(report.started_us),
        "endTimeUnixNano": nanos(end_us),
        "attributes": [
            string_attr("faasml.run_id", run_id),
            string_attr("faasml.workflow", &report.workflow),
            string_attr("faasml.platform", &report.platform),
            int_attr("faasml.invocations", report.invocations.len() as u64),
        ],
        "status": status(&report.outcome),
    })];
    for (i, stage) in report.stages.iter().enumerate() {
        let of = report
            .invocations
            .iter()
            .filter(|r| r.function == stage.function);
        let start = of
            .clone()
            .map(|r| r.start_us)
            .min()
            .unwrap_or(report.started_us);
        let end = of.map(|r| r.end_us).max().unwrap_or(start);
        spans.push(json!({
            "traceId": trace,
            "spanId": span_id(run_id, "stage", i),
            "parentSpanId": root,
            "name": format!("stage {}", stage.function),
            "kind": KIND_INTERNAL,
            "startTimeUnixNano": nanos(start),
            "endTimeUnixNano": nanos(end),
            "attributes": [
                string_attr("faasml.run_id", run_id),
                string_attr("faasml.function", &stage.function),
                int_attr("faasml.invocations", u64::from(stage.invocations)),
                int_attr("faasml.failed", u64::from(stage.failed)),
                int_attr("faasml.cold", u64::from(stage.cold)),
                int_attr("faasml.bytes_read", stage.bytes_read),
                int_attr("faasml.bytes_written", stage.bytes_written),
            ],
            "status": {"code": if stage.failed == 0 { STATUS_OK } else { STATUS_ERROR }},
        }));
    }
    for (i, record) in report.invocations.iter().enumerate() {
        let parent = parent_index(&report.invocations, record)
            .map_or_else(|| root.clone(), |p| span_id(run_id, "invocation", p));
        spans.push(json!({
            "traceId": trace,
            "spanId": span_id(run_id, "invocation", i),
            "parentSpanId": parent,
            "name": record.function,
            "kind": KIND_SERVER,
            "startTimeUnixNano": nanos(record.start_us),
            "endTimeUnixNano": nanos(record.end_us),
            "attributes": [
                string_attr("faasml.run_id", run_id),
                string_attr("faasml.function", &record.function),
                string_attr("faasml.instance", &record.instance),
                int_attr("faasml.attempt", u64::from(record.attempt)),
                bool_attr("faasml.cold", record.cold),
                int_attr("faasml.bytes_read", record.bytes_read),
                int_attr("faasml.bytes_written", record.bytes_written),
                int_attr("faasml.payload_in", record.payload_in),
                int_attr("faasml.payload_out", record.payload_out),
            ],
            "status": status(&record.outcome),
        }));
    }
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                string_attr("service.name", "faasml"),
                string_attr("service.version", env!("CARGO_PKG_VERSION")),
            ]},
            "scopeSpans": [{
                "scope": {"name": "faasml", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans,
            }],
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::StageSummary;

    fn record(
        function: &str,
        instance: &str,
        parent: Option<&str>,
        s: u64,
        e: u64,
    ) -> InvocationRecord {
        InvocationRecord {
            function: function.into(),
            instance: instance.into(),
            parent: parent.map(Into::into),
            attempt: 1,
            cold: true,
            start_us: s,
            end_us: e,
            bytes_read: 10,
            bytes_written: 20,
            payload_in: 1,
            payload_out: 2,
            outcome: Outcome::Ok,
            ..InvocationRecord::default()
        }
    }

    #[test]
    fn spans_form_the_call_tree_under_the_run() {
        let invocations = vec![
            record("w.driver", "driver-1", None, 1_000, 9_000),
            record("w.map", "map-1", Some("driver-1"), 2_000, 3_000),
            record("w.map", "map-2", Some("driver-1"), 2_000, 4_000),
        ];
        let report = RunReport {
            run_id: "r1".into(),
            trace_id: trace_id("r1"),
            workflow: "w".into(),
            platform: "embedded".into(),
            started_us: 900,
            wall_seconds: 0.0085,
            outcome: Outcome::Ok,
            params: Value::Null,
            result: Value::Null,
            meta: Default::default(),
            stages: StageSummary::from_records(&invocations),
            invocations,
        };
        let body = otlp_json(&report);
        let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        // run + 2 stages + 3 invocations
        assert_eq!(spans.len(), 6);
        let trace = trace_id("r1");
        assert_eq!(trace.len(), 32);
        assert!(spans.iter().all(|s| s["traceId"] == trace));
        let root = &spans[0]["spanId"];
        let driver = &spans[3];
        assert_eq!(driver["name"], "w.driver");
        assert_eq!(&driver["parentSpanId"], root);
        assert_eq!(spans[4]["parentSpanId"], driver["spanId"]);
        assert_eq!(spans[5]["parentSpanId"], driver["spanId"]);
        assert_eq!(spans[4]["startTimeUnixNano"], "2000000");
        // Deterministic ids: the same report gives the same trace.
        assert_eq!(otlp_json(&report), body);
    }
}
