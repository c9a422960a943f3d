#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a bounded time and prints what it found.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET]     (default 60; TARGETS="idx png" to pick some)
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The committed seed
# corpus fuzz/corpus/<target> is read, never written: new inputs go to a scratch directory
# ($FUZZ_WORK, default a temporary one), and so do crash inputs (artifacts/<target>/), to be
# turned into regression tests in the crate that owns the decoder. Built without a sanitizer:
# the decoders are safe Rust, and the targets' allocator (fuzz/src/lib.rs) turns any single
# allocation above 256 MiB into a crash, which -malloc_limit_mb would only see under one.
# Exit status 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
targets=${TARGETS:-"idx png csv_table libsvm arrays model envelope"}
work=${FUZZ_WORK:-$(mktemp -d -t faasml-fuzz.XXXXXX)}
target_dir=${CARGO_TARGET_DIR:-fuzz/target}/fuzz
flags=(-s none --target-dir "$target_dir")

cargo +nightly fuzz build "${flags[@]}"
found=0
printf '%-10s %8s %12s %10s  %s\n' target seconds executions corpus findings
for t in $targets; do
    mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
    log="$work/$t.log"
    status=0
    cargo +nightly fuzz run "${flags[@]}" "$t" "$work/corpus/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=256 \
        -artifact_prefix="$work/artifacts/$t/" -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    units=$(find "$work/corpus/$t" -type f | wc -l)
    artifacts=$(find "$work/artifacts/$t" -type f | wc -l)
    if [ "$status" -ne 0 ] || [ "$artifacts" -gt 0 ]; then
        found=1
        printf '%-10s %8s %12s %10s  %s\n' "$t" "$seconds" "$execs" "$units" \
            "$artifacts input(s) in $work/artifacts/$t (log $log)"
        grep -m3 -E 'panicked|ERROR: libFuzzer|allocation above|deadly signal' "$log" | sed 's/^/    /' || true
    else
        printf '%-10s %8s %12s %10s  %s\n' "$t" "$seconds" "$execs" "$units" none
    fi
done
echo "work directory: $work"
exit "$found"
