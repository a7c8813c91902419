#!/usr/bin/env bash
# The CLI across processes (ALGORITHMS.md §6, README "Across processes"),
# through mpirun with 2 ranks on one machine:
#  1. a run trains, rank 0 writes every output, the other rank writes nothing,
#     and the final losses equal the single-process run's (float64, 1e-6);
#  2. a data file missing on one rank fails the run on every rank, quickly,
#     with each rank's message naming the failing rank;
#  3. a rank that stops answering makes the other exit non-zero within the
#     time-out, with a message naming the collective;
#  4. a rank that dies makes the job end non-zero instead of hanging.
# Usage: failures.sh MPIRUN SIBP MPI_DEAD_RANK
set -uo pipefail
MPIRUN="$1"; SIBP="$2"; DEAD="$3"
RUN=("$MPIRUN" --allow-run-as-root --oversubscribe)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Three Gaussian blobs in 4 dimensions (label first), as tests/support write_blobs.
/usr/bin/python3 - "$tmp" <<'PY'
import random, sys, os
d = sys.argv[1]
for name, n, seed in (("train.csv", 150, 1), ("test.csv", 60, 2)):
    r = random.Random(seed)
    with open(os.path.join(d, name), "w") as f:
        f.write("label,a,b,c,d\n")
        for i in range(n):
            lab = i % 3
            f.write(str(lab) + "".join("," + repr((1.0 if k % 3 == lab else 0.0) + r.gauss(0, 0.35)) for k in range(4)) + "\n")
PY
mkdir -p "$tmp/a" "$tmp/b" "$tmp/single"
cp "$tmp/train.csv" "$tmp/test.csv" "$tmp/a/"
cp "$tmp/train.csv" "$tmp/test.csv" "$tmp/b/"
cp "$tmp/train.csv" "$tmp/test.csv" "$tmp/single/"
ARGS=(train --data csv:train.csv,test.csv --layers 4-8-3 --epochs 2 --batch 7 --seed 3 --dtype f64 --out out)

# 1. Training: relative paths, each rank in its own folder (as on separate machines).
for algo in "--algo sgd --lr 0.5" "--algo sibp --eta 0.5" "--algo proxprop --prox-solver cg"; do
  rm -rf "$tmp/a/out" "$tmp/b/out" "$tmp/single/out"
  (cd "$tmp/single" && "$SIBP" "${ARGS[@]}" $algo >/dev/null) || fail "single-process run ($algo)"
  out=$(timeout 120 "${RUN[@]}" -np 1 -wdir "$tmp/a" "$SIBP" "${ARGS[@]}" $algo : \
                              -np 1 -wdir "$tmp/b" "$SIBP" "${ARGS[@]}" $algo 2>&1) || fail "mpirun ($algo): $out"
  for f in config.json metrics.csv metrics.json model.safetensors result.json; do
    [[ -f "$tmp/a/out/$f" ]] || fail "rank 0 did not write $f ($algo)"
  done
  [[ ! -e "$tmp/b/out" ]] || fail "rank 1 wrote into its folder ($algo): $(ls -R "$tmp/b/out")"
  grep -q "processes: 2; per step:" <<<"$out" || fail "no communication volume printed ($algo): $out"
  /usr/bin/python3 - "$tmp/single/out/metrics.json" "$tmp/a/out/metrics.json" "$algo" <<'PY' || exit 1
import json, sys
one, two = (json.load(open(p)) for p in sys.argv[1:3])
assert len(one) == len(two), (len(one), len(two))
for a, b in zip(one, two):
    for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
        if abs(a[k] - b[k]) > 1e-6 * max(1.0, abs(a[k])):
            sys.exit("FAIL: %s: %s at iteration %d: one process %r, two %r" % (sys.argv[3], k, a["iteration"], a[k], b[k]))
PY
done
echo "ok: 2 ranks train as one process does; rank 1 writes nothing"

# 2. The data file missing on rank 1 only.
rm -f "$tmp/b/train.csv"; rm -rf "$tmp/a/out"
start=$SECONDS
out=$(timeout 60 "${RUN[@]}" -np 1 -wdir "$tmp/a" "$SIBP" "${ARGS[@]}" : -np 1 -wdir "$tmp/b" "$SIBP" "${ARGS[@]}" 2>&1)
code=$?
[[ $code -ne 0 && $code -ne 124 ]] || fail "missing data on rank 1: exit $code (124 = hung): $out"
grep -q "sibp (rank 1): error: .*train.csv.*(ranks that failed to load the data: 1)" <<<"$out" || fail "rank 1 did not name the missing file: $out"
grep -q "sibp (rank 0): error: .*rank(s) 1 of 2 could not load the data" <<<"$out" || fail "rank 0 did not name rank 1: $out"
[[ ! -e "$tmp/a/out/metrics.csv" ]] || fail "rank 0 started training without rank 1's data"
echo "ok: missing data on one rank fails every rank ($((SECONDS - start)) s)"

# 3. Rank 1 never answers: rank 0 must time out in its first collective.
start=$SECONDS
out=$(SIBP_MPI_TIMEOUT=3 timeout 60 "${RUN[@]}" -x SIBP_MPI_TIMEOUT -np 1 -wdir "$tmp/a" "$SIBP" "${ARGS[@]}" : \
      -np 1 "$DEAD" hang 2>&1)
code=$?
[[ $code -ne 0 && $code -ne 124 ]] || fail "hanging rank: exit $code (124 = hung): $out"
grep -q "sibp (rank 0): error: MPI allreduce of the data-loading outcome timed out on rank 0 after 3 s" <<<"$out" \
  || fail "no time-out message naming the collective: $out"
echo "ok: a rank that hangs makes the other exit $code after $((SECONDS - start)) s"

# 4. Rank 1 dies: the job must end, non-zero.
start=$SECONDS
out=$(SIBP_MPI_TIMEOUT=10 timeout 60 "${RUN[@]}" -x SIBP_MPI_TIMEOUT -np 1 -wdir "$tmp/a" "$SIBP" "${ARGS[@]}" : \
      -np 1 "$DEAD" exit 2>&1)
code=$?
[[ $code -ne 0 && $code -ne 124 ]] || fail "dead rank: exit $code (124 = hung): $out"
echo "ok: a rank that dies ends the job with exit $code after $((SECONDS - start)) s"

# 5. Ranks started on different runs (a hostfile mistake): one rank gets other
#    data, another architecture, algorithm or seed. Before training, every
#    rank must stop within seconds (no collective of mismatched sizes, no
#    crash), each naming the rank and what differs; nothing is written.
#    With 2 and 3 processes: the odd one out is the last rank.
mkdir -p "$tmp/c"
cp "$tmp/train.csv" "$tmp/test.csv" "$tmp/c/"
/usr/bin/python3 - "$tmp/c/train.csv" <<'PY'
import sys
rows = open(sys.argv[1]).read().splitlines()
rows[5] = rows[5].split(",")[0] + ",9,9,9,9"   # one sample changed, same size
open(sys.argv[1], "w").write("\n".join(rows) + "\n")
PY
for np in 2 3; do
  last=$((np - 1))
  for case in "data|the train split" "arch|option 'layers'" "algo|option 'algo'" "seed|option 'seed'"; do
    IFS='|' read -r what expect <<<"$case"
    rm -rf "$tmp/a/out" "$tmp/single/out" "$tmp/c/out"
    odd_dir="$tmp/single"; [[ $what == data ]] && odd_dir="$tmp/c"
    launch=()
    for ((r = 0; r < last; ++r)); do launch+=(-np 1 -wdir "$tmp/a" "$SIBP" "${ARGS[@]}" --algo sibp --eta 0.5 :); done
    # The odd rank's options: the others', with one value changed.
    odd=()
    for ((i = 0; i < ${#ARGS[@]}; ++i)); do
      v=${ARGS[i]}
      [[ $what == arch && $v == 4-8-3 ]] && v=4-9-3
      [[ $what == seed && ${ARGS[i - 1]} == --seed ]] && v=4
      odd+=("$v")
    done
    if [[ $what == algo ]]; then odd+=(--algo sgd --lr 0.5); else odd+=(--algo sibp --eta 0.5); fi
    start=$SECONDS
    out=$(SIBP_MPI_TIMEOUT=30 timeout 60 "${RUN[@]}" -x SIBP_MPI_TIMEOUT "${launch[@]}" -np 1 -wdir "$odd_dir" "$SIBP" "${odd[@]}" 2>&1)
    code=$?
    took=$((SECONDS - start))
    [[ $code -ne 0 && $code -ne 124 ]] || fail "np $np, $what differs on rank $last: exit $code (124 = hung): $out"
    (( took < 25 )) || fail "np $np, $what differs: took $took s"
    for ((r = 0; r < np; ++r)); do
      grep -q "sibp (rank $r): error: .*rank $last differs from rank 0 in: .*$expect" <<<"$out" \
        || fail "np $np, $what differs: rank $r did not name rank $last and $expect: $out"
    done
    ! grep -qiE "segmentation|double free|signal|MPI_ERR|truncat" <<<"$out" || fail "np $np, $what: a crash: $out"
    [[ ! -e "$tmp/a/out/metrics.csv" ]] || fail "np $np, $what: rank 0 trained"
    echo "ok: $np ranks, $what differs on rank $last: every rank stops and names it (exit $code, $took s)"
  done
done
