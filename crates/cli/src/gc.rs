//! `faasml gc`: removes the scratch of runs that are no longer running.
//!
//! A run's driver deletes `runs/<run id>/` (objects and state keys) when it ends; a driver that
//! was killed cannot. `gc` lists `runs/` in the store and removes every run whose record's
//! heartbeat (refreshed every 30 s while its driver lives) is older than `--older-than`
//! (default 10 minutes; at least 1 minute, so a live run is never touched), with its keys in
//! the state store. `--dry-run` only lists them. Published models and results are never
//! touched.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use faasml_core::human_bytes;
use faasml_workflows::kit::gc;

use crate::{PlatformArgs, UsageError};

/// Options of `gc`.
#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    /// Remove runs idle for at least this long: 90s, 10m, 2h, 1d.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    older_than: Duration,
    /// List what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    platform: PlatformArgs,
}

/// Parses `90s`, `10m`, `2h`, `1d` (a bare number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 90s, 10m, 2h or 1d"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => {
            return Err(format!(
                "unknown unit '{other}' in '{text}' (use s, m, h or d)"
            ));
        }
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("'{text}' is too long"))
}

/// `faasml gc`.
pub(crate) async fn run(args: GcArgs) -> Result<()> {
    if args.older_than < gc::MIN_AGE {
        return Err(UsageError(format!(
            "--older-than must be at least {} s: a live run's heartbeat can be {} s old",
            gc::MIN_AGE.as_secs(),
            gc::MIN_AGE.as_secs() / 2
        ))
        .into());
    }
    let store = crate::platform::open_store(&args.platform.store, &[])?;
    let state = faasml_state::open(&args.platform.state)
        .await
        .with_context(|| format!("cannot open the state store {}", args.platform.state))?;
    let runs = gc::scan(&store, usize::MAX)
        .await
        .with_context(|| format!("cannot list runs/ in {}", store.url()))?;
    let total = runs.len();
    let stale = gc::stale(runs, args.older_than);
    let mut out = std::io::stdout().lock();
    let (mut objects, mut bytes) = (0usize, 0u64);
    for run in &stale {
        let what = run
            .record
            .as_ref()
            .map_or_else(|| "no record".to_string(), |r| r.workflow.clone());
        let _ = writeln!(
            out,
            "{} {} ({what}, idle {} s): {} objects, {}",
            if args.dry_run {
                "would remove"
            } else {
                "removing"
            },
            run.run_id,
            run.idle_seconds,
            run.objects,
            human_bytes(run.bytes)
        );
        if !args.dry_run {
            objects += gc::remove(&store, state.as_ref(), run)
                .await
                .with_context(|| format!("cannot remove the scratch of run {}", run.run_id))?;
            bytes += run.bytes;
        }
    }
    let _ = if args.dry_run {
        writeln!(
            out,
            "{} of {total} runs in {} idle for {} s or more; nothing removed (--dry-run)",
            stale.len(),
            store.url(),
            args.older_than.as_secs()
        )
    } else {
        writeln!(
            out,
            "removed {} of {total} runs in {}: {objects} objects, {}",
            stale.len(),
            store.url(),
            human_bytes(bytes)
        )
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["", "m", "10y", "-1s", "1.5h", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
