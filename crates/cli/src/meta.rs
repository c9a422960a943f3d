//! What a report records about where its run came from: the faasml build, the command line, the
//! platform options and the host.

use std::collections::BTreeMap;

use faasml_core::{HostInfo, RunMeta};

use crate::PlatformArgs;

/// The commit this binary was built from (set by `build.rs`; `unknown` outside a git checkout).
pub(crate) const COMMIT: &str = env!("FAASML_COMMIT");

/// `faasml --version`: `0.1.0 (commit abc123)`.
pub(crate) const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FAASML_COMMIT"),
    ")"
);

/// The platform options of `args` as the report records them (no secrets: URLs only).
pub(crate) fn platform_options(args: &PlatformArgs) -> BTreeMap<String, String> {
    let mut options = BTreeMap::new();
    options.insert("store".to_string(), redact(&args.store));
    options.insert("state".to_string(), redact(&args.state));
    options.insert("platform".to_string(), args.platform.as_str().to_string());
    if let Some(gateway) = &args.gateway {
        options.insert("gateway".to_string(), redact(gateway));
    }
    if let Some(n) = args.concurrency {
        options.insert("concurrency".to_string(), n.to_string());
    }
    options.insert("attempts".to_string(), args.attempts.to_string());
    if let Some(trace) = &args.trace {
        options.insert("trace".to_string(), redact(trace));
    }
    options
}

/// `url` with any `user:password@` part replaced, so a report never holds a password.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// The report metadata of a run started with `args`, with `concurrency` the limit it ran with.
pub(crate) fn run_meta(args: &PlatformArgs, concurrency: Option<usize>) -> RunMeta {
    let mut platform = platform_options(args);
    if let Some(n) = concurrency {
        platform.insert("concurrency".to_string(), n.to_string());
    }
    RunMeta {
        faasml_version: env!("CARGO_PKG_VERSION").to_string(),
        commit: COMMIT.to_string(),
        command: std::env::args().map(|a| redact(&a)).collect(),
        platform,
        host: HostInfo::detect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_report() {
        assert_eq!(
            redact("redis://user:secret@host:6379/0"),
            "redis://<redacted>@host:6379/0"
        );
        assert_eq!(redact("s3://bucket/prefix"), "s3://bucket/prefix");
        assert_eq!(redact("--concurrency"), "--concurrency");
        assert_eq!(redact("http://h/a@b"), "http://h/a@b");
    }
}
