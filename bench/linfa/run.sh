#!/usr/bin/env bash
# Rerunnable benchmark: linfa 0.8.1 vs scikit-learn. Usage: ./run.sh [sizes...]  (default: 300 20000)
# sklearn and linfa measurements run back to back per (model, S, mode) so ratios share machine state.
set -u
cd "$(dirname "$0")"
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 MKL_NUM_THREADS=2 RAYON_NUM_THREADS=2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
SIZES="${*:-300 20000}"
BIN=./target/release/linfa-bench
[ -x $BIN ] || cargo build --release
mkdir -p data; [ -f data/X_20000.bin ] || python3 py/gen_data.py
mkdir -p out data
$BIN correct out/linfa_correct.json && python3 py/compare.py > /dev/null
LOG=out/results.txt
for S in $SIZES; do
  for model in lasso logistic knn svr; do
    skip_oof=0
    for mode in fit oof; do
      [ $mode = oof ] && [ $skip_oof = 1 ] && { echo "RESULT linfa $model linear S=$S oof NOT_RUN (single full fit > 300 s)" | tee -a $LOG; python3 py/sk_speed.py $model $S $mode 3 | tee -a $LOG; continue; }
      python3 py/sk_speed.py $model $S $mode 3 | tee -a $LOG
      algos=linear; [ $model = knn ] && [ $S = 300 ] && algos="linear kdtree balltree"
      [ $model = knn ] && [ $S = 20000 ] && [ $mode = fit ] && algos="linear kdtree balltree"
      for a in $algos; do
        $BIN speed $model $S $mode 3 $a out/linfa_oof_${model}_${a}_${S}.bin | tee -a $LOG
        [ ${PIPESTATUS[0]} = 3 ] && [ $mode = fit ] && skip_oof=1
      done
    done
  done
done
python3 py/oof_compare.py | tee -a $LOG
