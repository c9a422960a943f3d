# Shared by bench/infra.sh and bench/stacking-infra.sh (sourced, from the repository root, with
# `set -euo pipefail` on): the release build, a loopback S3 server (crates/testkit example),
# `faasml serve` workers on fixed ports, clean-up on exit, and the median of a run's timings.

# Builds faasml and the S3 server, starts the server and reads its variables (FAASML_S3_URL,
# AWS_*); sets `target`, `bin`, `work` (a temporary directory) and `pids`, stopped on exit.
infra_start() {
    cargo build --release -q -p faasml -p faasml-testkit --example s3_server
    # Cargo writes where CARGO_TARGET_DIR says, if it says.
    target="${CARGO_TARGET_DIR:-target}"
    bin="$target/release/faasml"
    work="$(mktemp -d)"
    pids=()
    trap infra_stop EXIT
    "$target/release/examples/s3_server" > "$work/s3.env" < /dev/null &
    pids+=($!)
    for _ in $(seq 50); do [ -s "$work/s3.env" ] && break; sleep 0.1; done
    # shellcheck disable=SC1091
    . "$work/s3.env"
}

infra_stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$work"
}

# infra_workers PORT... [-- SERVE-ARGUMENTS...]: one worker per port on the S3 store, waited for
# until healthy; sets `gateway` to their comma-separated URLs.
infra_workers() {
    local ports=() p
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do ports+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    gateway=""
    for p in "${ports[@]}"; do gateway="${gateway:+$gateway,}http://127.0.0.1:$p"; done
    for p in "${ports[@]}"; do
        "$bin" serve --port "$p" --host 127.0.0.1 --store "$FAASML_S3_URL" "$@" \
            >"$work/worker-$p.log" 2>&1 &
        pids+=($!)
    done
    for p in "${ports[@]}"; do
        for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
    done
}

# median VALUE...: the median (the lower one of an even count).
median() {
    printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"
}
