#!/usr/bin/env bash
# ml-training mnist-10k "2 8" on embedded+file, embedded+S3 and http(3 workers)+S3, side by side.
# Starts a loopback S3 server (crates/testkit example) and three `faasml serve` workers, and stops
# them on exit. Usage: bench/infra.sh [REPEAT]   (default 3; the median run is reported)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat="${1:-3}"
# shellcheck source=bench/infra-common.sh
. bench/infra-common.sh
infra_start
infra_workers 18181 18182 18183

run() { # label, then faasml arguments
    local label="$1"; shift
    local times=() acc=""
    for _ in $(seq "$repeat"); do
        local line
        line="$("$bin" run ml-training --train mnist-10k --pca 2 --rf 8 --report-dir "$work/runs" -q "$@")"
        acc="$(echo "$line" | awk 'NR==1{print $2}')"
        times+=("$(echo "$line" | sed -n 's/.*end to end \([0-9.]*\) s.*/\1/p')")
    done
    printf '%-28s %10s s %10s\n' "$label" "$(median "${times[@]}")" "$acc"
}

# Import the datasets once per store, outside the timed runs.
"$bin" run ml-training --train mnist-10k --trees 1 -q --store "file://$work/store" --report-dir "$work/runs" >/dev/null
"$bin" run ml-training --train mnist-10k --trees 1 -q --store "$FAASML_S3_URL" --report-dir "$work/runs" >/dev/null

printf '%-28s %12s %10s\n' "platform + store" "end to end" "accuracy"
run "embedded + file" --store "file://$work/store"
run "embedded + s3 (loopback)" --store "$FAASML_S3_URL"
run "http (3 workers) + s3" --store "$FAASML_S3_URL" --platform http --gateway "$gateway"
