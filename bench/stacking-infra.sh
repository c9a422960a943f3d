#!/usr/bin/env bash
# stacking on embedded (file store: inline, store, state) and on three `faasml serve` workers over
# a loopback S3 server with Redis as the state store (store, state, inline), 4 and 16 trainers,
# side by side. Starts the S3 server (crates/testkit example), a redis-server and the workers, and
# stops them on exit. Usage: bench/stacking-infra.sh [REPEAT]   (default 5; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat="${1:-5}"
cargo build --release -q -p faasml -p faasml-testkit --example s3_server
target="${CARGO_TARGET_DIR:-target}"
bin="$target/release/faasml"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$target/release/examples/s3_server" > "$work/s3.env" < /dev/null &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/s3.env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$work/s3.env"
redis_port=16399
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
pids+=($!)
redis="redis://127.0.0.1:$redis_port"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

ports=(18191 18192 18193)
gateway=""
for p in "${ports[@]}"; do
    FAASML_STATE="$redis" "$bin" serve --port "$p" --host 127.0.0.1 --store "$FAASML_S3_URL" \
        --gateway "http://127.0.0.1:${ports[0]},http://127.0.0.1:${ports[1]},http://127.0.0.1:${ports[2]}" \
        >"$work/worker-$p.log" 2>&1 &
    pids+=($!)
    gateway="${gateway:+$gateway,}http://127.0.0.1:$p"
done
for p in "${ports[@]}"; do
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done

run() { # label, then faasml arguments
    local label="$1"; shift
    local times=() auc=""
    for _ in $(seq "$repeat"); do
        local line
        line="$("$bin" run stacking --report-dir "$work/runs" -q --json "$@")"
        times+=("$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_seconds"])')")
        auc="$(echo "$line" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["result"]["meta_oof_auc"], 4))')"
    done
    local median
    median="$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (repeat + 1) / 2 ))p")"
    printf '%-44s %10s s %8s\n' "$label" "$median" "$auc"
}

printf '%-44s %12s %8s\n' "trainers, mode, platform + transfer" "end to end" "meta AUC"
for trainers in 4 16; do
    for mode in sequential concurrent; do
        for transfer in inline store state; do
            run "$trainers $mode embedded + file, $transfer" --trainers "$trainers" --mode "$mode" \
                --transfer "$transfer" --store "file://$work/store"
        done
        run "$trainers $mode http(3) + s3, store" --trainers "$trainers" --mode "$mode" \
            --transfer store --store "$FAASML_S3_URL" --platform http --gateway "$gateway"
        run "$trainers $mode http(3) + s3 + redis, state" --trainers "$trainers" --mode "$mode" \
            --transfer state --store "$FAASML_S3_URL" --platform http --gateway "$gateway"
        run "$trainers $mode http(3) + s3, inline" --trainers "$trainers" --mode "$mode" \
            --transfer inline --store "$FAASML_S3_URL" --platform http --gateway "$gateway"
    done
done
