#!/usr/bin/env bash
# The stacking workflow and its scikit-learn peer (bench/stacking_sklearn.py) on the SAME rows:
# scikit-learn's make_classification output exported to CSV, imported with `faasml data import
# csv`, trained with --holdout 0 (the seed's setup: out-of-fold AUC over every row), runs
# alternating, medians reported. Usage: bench/stacking-side-by-side.sh [SAMPLES] [REPEAT]
# (defaults 300 and 5; SAMPLES 20000 takes about 5 minutes per scikit-learn run).
set -euo pipefail
cd "$(dirname "$0")/.."
samples="${1:-300}"
repeat="${2:-5}"
cargo build --release -q -p faasml
target="${CARGO_TARGET_DIR:-target}"
bin="$(pwd)/$target/release/faasml"
[ -x "$bin" ] || bin="$target/release/faasml"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/stacking_sklearn.py --samples "$samples" --features 1024 --export-csv "$work/sk.csv" >/dev/null
"$bin" data import csv "$work/sk.csv" --target target --to "file://$work/store/sk" -q >/dev/null

median() { sort -n | sed -n "$(( (repeat + 1) / 2 ))p"; }
printf '%-22s %12s %10s %12s %10s %8s\n' "trainers, mode" "faasml s" "faasml AUC" "sklearn s" "sk AUC" "ratio"
for trainers in 4 16; do
    for mode in sequential concurrent; do
        ours=() peer=() our_auc="" peer_auc=""
        for _ in $(seq "$repeat"); do
            line="$(cd "$work" && "$bin" run stacking --store "file://$work/store" --data sk --target target \
                --holdout 0 --trainers "$trainers" --mode "$mode" --model sk -q --json)"
            ours+=("$(echo "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_seconds"])')")
            our_auc="$(echo "$line" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["result"]["meta_oof_auc"], 4))')"
            line="$(python3 bench/stacking_sklearn.py --samples "$samples" --features 1024 --holdout 0 \
                --trainers "$trainers" --mode "$mode" | tail -1)"
            peer+=("$(echo "$line" | tr ' ' '\n' | sed -n 's/^end_to_end_s=//p')")
            peer_auc="$(echo "$line" | tr ' ' '\n' | sed -n 's/^meta_oof_auc=//p')"
        done
        o="$(printf '%s\n' "${ours[@]}" | median)"
        p="$(printf '%s\n' "${peer[@]}" | median)"
        printf '%-22s %12s %10s %12s %10s %7.1fx\n' "$trainers $mode" "$o" "$our_auc" "$p" "$peer_auc" \
            "$(python3 -c "print($p / $o)")"
    done
done
