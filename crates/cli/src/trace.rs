//! `--trace otlp=URL`: export the spans of a finished run to an OpenTelemetry collector over
//! OTLP/HTTP (JSON encoding, `POST URL/v1/traces`).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use faasml_core::RunReport;

/// Where to send traces, parsed from `--trace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TraceTarget {
    /// An OTLP/HTTP collector, e.g. `http://127.0.0.1:4318`.
    Otlp(String),
}

impl TraceTarget {
    /// Parses `otlp=http://HOST:PORT`.
    pub(crate) fn parse(spec: &str) -> Result<Self> {
        match spec.split_once('=') {
            Some(("otlp", url)) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Self::Otlp(url.trim_end_matches('/').to_string()))
            }
            _ => bail!(
                "invalid --trace '{spec}': expected otlp=http://HOST:PORT (an OTLP/HTTP collector)"
            ),
        }
    }
}

/// Sends the run's spans to `target`; returns the number of spans sent.
pub(crate) async fn export(target: &TraceTarget, report: &RunReport) -> Result<usize> {
    let TraceTarget::Otlp(base) = target;
    let body = faasml_core::otlp::otlp_json(report);
    let spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array()
        .map_or(0, Vec::len);
    let url = format!("{base}/v1/traces");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client for trace export")?;
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body)?)
        .send()
        .await
        .with_context(|| format!("cannot send traces to {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        bail!("the collector at {url} answered {status}: {text}");
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_otlp_targets_and_rejects_others() {
        assert_eq!(
            TraceTarget::parse("otlp=http://127.0.0.1:4318/").unwrap(),
            TraceTarget::Otlp("http://127.0.0.1:4318".into())
        );
        assert!(TraceTarget::parse("zipkin=http://x").is_err());
        assert!(TraceTarget::parse("otlp=127.0.0.1:4318").is_err());
    }
}
