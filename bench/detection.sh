#!/usr/bin/env bash
# Detection power of the probes (loopback only): `duxue calibrate` K times, each with its own
# seed, and for every case how often it came out as the calibration manifest says: a defect
# caught (FAIL of exactly its requirements), the clean platform and each conforming variant
# CERTIFIED. Each rate is printed with n and its one-sided 95% Clopper–Pearson lower bound, so a
# probe that catches its defect only sometimes shows here instead of behind the calibration
# test's retry. Aim: every defect's lower bound at least 0.99 needs n >= 299 clean catches;
# a K of 30 bounds it at 0.905.
# Usage: bench/detection.sh [K] [DEFECTS]  (K default 10; DEFECTS comma-separated, default all)
#   BENCH_LEARNERS=N  run the population phase too (default 0: probes only; the load defects
#                     and LD-1/LD-2 are then not judged and listed as not calibrated)
#   BENCH_PARALLEL=N  cases at once (default 3); BENCH_KEEP=DIR keeps every calibration there.
# CPU-heavy: one calibration of every defect takes minutes; run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
K="${1:-10}"
DEFECTS="${2:-}"
LEARNERS="${BENCH_LEARNERS:-0}"
PARALLEL="${BENCH_PARALLEL:-3}"
case "$K" in ''|*[!0-9]*) echo "bench/detection.sh: K must be a number, not '$K'" >&2; exit 2 ;; esac
cargo build --release -p duxue-harness --bin duxue
BIN="$PWD/target/release/duxue"
WORK="$(mktemp -d)"
trap 'if [ -n "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_KEEP"; mv "$WORK" "$BENCH_KEEP"; else rm -rf "$WORK"; fi' EXIT
args=(--learners "$LEARNERS" --parallel "$PARALLEL" --ramp-up 15 --hold 30 --ramp-down 5)
if [ -n "$DEFECTS" ]; then args+=(--defects "$DEFECTS"); fi
start=$(date +%s)
for i in $(seq 1 "$K"); do
  seed=$((20221109 + i))
  # calibrate exits 1 for PARTIAL or MISCALIBRATED; calibration.json says which.
  "$BIN" calibrate --seed "$seed" "${args[@]}" --out "$WORK/run-$i" >"$WORK/run-$i.log" 2>&1 || true
  if [ ! -f "$WORK/run-$i/calibration.json" ]; then
    echo "bench/detection.sh: calibration $i wrote no calibration.json:" >&2
    tail -5 "$WORK/run-$i.log" >&2
    exit 1
  fi
  echo "calibration $i/$K (seed $seed): $(grep -E '^(CALIBRATED|PARTIAL|MISCALIBRATED)' "$WORK/run-$i.log" || true)"
done
echo "wall: $(( $(date +%s) - start )) s for $K calibrations"
python3 - "$WORK" "$K" <<'PY'
import json, sys, pathlib
sys.path.insert(0, "bench")
from stats import lower_bound
work, k = pathlib.Path(sys.argv[1]), int(sys.argv[2])

tally = {}
for i in range(1, k + 1):
    cal = json.loads((work / f"run-{i}" / "calibration.json").read_text())
    for c in cal["cases"]:
        t = tally.setdefault((c["kind"], c["case"]), {"n": 0, "ok": 0, "not_calibrated": 0, "misses": []})
        if c.get("not_calibrated"):
            t["not_calibrated"] += 1
            continue
        t["n"] += 1
        if c["ok"]:
            t["ok"] += 1
        else:
            t["misses"].append(f"seed {cal['seed']}: " + "; ".join(
                f"{s['id']} {s['verdict']} (expected {s['expected']})" for s in c.get("surprises", [])))
order = {"clean": 0, "variant": 1, "defect": 2}
print(f"{'case':<32} {'kind':<8} {'n':>4} {'as expected':>11} {'rate':>7} {'95% lower':>9}")
weak = []
for (kind, name), t in sorted(tally.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
    n, x = t["n"], t["ok"]
    if n == 0:
        print(f"{name:<32} {kind:<8} {n:>4} {'':>11} {'—':>7} {'—':>9}  not calibrated in this run ({t['not_calibrated']}×)")
        continue
    lb = lower_bound(x, n)
    print(f"{name:<32} {kind:<8} {n:>4} {x:>11} {x / n:>7.3f} {lb:>9.3f}")
    if x < n:
        weak.append((name, t["misses"]))
for name, misses in weak:
    print(f"\n{name} missed {len(misses)}×:")
    for m in misses:
        print(f"  {m}")
sys.exit(1 if weak else 0)
PY
