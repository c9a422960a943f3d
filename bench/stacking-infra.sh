#!/usr/bin/env bash
# stacking on embedded (file store: inline, store, state) and on three `faasml serve` workers over
# a loopback S3 server with Redis as the state store (store, state, inline), 4 and 16 trainers,
# side by side. Starts the S3 server (crates/testkit example), a redis-server and the workers, and
# stops them on exit. Usage: bench/stacking-infra.sh [REPEAT]   (default 5; medians reported)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat="${1:-5}"
# shellcheck source=bench/infra-common.sh
. bench/infra-common.sh
infra_start
redis_port=16399
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work" \
    >"$work/redis.log" 2>&1 &
pids+=($!)
redis="redis://127.0.0.1:$redis_port"
for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done

infra_workers 18191 18192 18193 -- --state "$redis" \
    --gateway "http://127.0.0.1:18191,http://127.0.0.1:18192,http://127.0.0.1:18193"

run() { # label, then faasml arguments
    local label="$1"; shift
    local times=() auc=""
    for _ in $(seq "$repeat"); do
        local line
        line="$("$bin" run stacking --report-dir "$work/runs" -q --json "$@")"
        times+=("$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_seconds"])')")
        auc="$(echo "$line" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["result"]["meta_oof_auc"], 4))')"
    done
    printf '%-44s %10s s %8s\n' "$label" "$(median "${times[@]}")" "$auc"
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
