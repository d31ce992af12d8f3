#!/usr/bin/env bash
# Scale-out benchmark (loopback only): the same population (same seed, same shape) run by one
# process and by 4 shards started together (`--start-at`) and merged, each against a fresh
# reference platform served by its own process. Figures:
#  - harness CPU per request (user + system of the duxue processes over the requests their
#    populations made), one process against the 4 shards together;
#  - LD-1's p99 at the peak per operation, the merged run's against the single run's;
#  - the shards' start skew against the agreed instant, their clocks against the platform's
#    Date header, and the spread of their starts;
#  - LD-1 / LD-2 of both.
# Usage: bench/shards.sh [LEARNERS] [RAMP_UP_S] [HOLD_S]  (defaults 10000 300 60; LEARNERS a
# multiple of 4); BENCH_KEEP=DIR keeps the runs there. Needs a quiet machine at full size.
set -euo pipefail
cd "$(dirname "$0")/.."
LEARNERS="${1:-10000}"
RAMP="${2:-300}"
HOLD="${3:-60}"
SHARDS=4
if [ $((LEARNERS % SHARDS)) != 0 ]; then
  echo "bench/shards.sh: LEARNERS ($LEARNERS) must be a multiple of $SHARDS" >&2
  exit 2
fi
PER_SHARD=$((LEARNERS / SHARDS))
cargo build --release -p duxue-harness --bin duxue
BIN="$PWD/target/release/duxue"
WORK="$(mktemp -d)"
TOKEN="bench-$RANDOM$RANDOM"
PLATFORM=""
stop_platform() { if [ -n "$PLATFORM" ]; then kill "$PLATFORM" 2>/dev/null || true; wait "$PLATFORM" 2>/dev/null || true; PLATFORM=""; fi; }
trap 'stop_platform; if [ -n "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_KEEP"; mv "$WORK" "$BENCH_KEEP"; else rm -rf "$WORK"; fi' EXIT
ulimit -n "$(ulimit -Hn)" || true

start_platform() { # name
  local port=$((20000 + RANDOM % 20000))
  "$BIN" platform serve --address 127.0.0.1 --port "$port" --database "$WORK/$1.sqlite" \
    --conformance-token "$TOKEN" >"$WORK/$1.platform.log" 2>&1 &
  PLATFORM=$!
  URL="http://127.0.0.1:$port"
  for _ in $(seq 50); do curl -sf "$URL/profile/v1/meta" >/dev/null && return; sleep 0.2; done
  echo "bench/shards.sh: the platform did not start ($WORK/$1.platform.log)" >&2
  exit 2
}

certify() { # shard learners out
  /usr/bin/time -f '%M %U %S' -o "$3.time" "$BIN" certify --target "$URL" --token "$TOKEN" \
    --only SC-4 --seed 1 --run-nonce 1 --learners "$2" --population-clock-scale 1 --ramp-up "$RAMP" \
    --hold "$HOLD" --ramp-down 5 --shard "$1" --start-at "$START_AT" --out "$3" \
    >/dev/null 2>"$3.err" || true
}

echo "one process: $LEARNERS learners, ramp $RAMP s, hold $HOLD s"
start_platform single
START_AT="$(date -u -d '+10 sec' +%FT%T.%3NZ)"
certify 0/1 "$LEARNERS" "$WORK/single"
stop_platform

echo "$SHARDS shards x $PER_SHARD learners, started together, then merged"
start_platform sharded
START_AT="$(date -u -d '+10 sec' +%FT%T.%3NZ)"
pids=()
for k in $(seq 0 $((SHARDS - 1))); do
  certify "$k/$SHARDS" "$PER_SHARD" "$WORK/shard-$k" &
  pids+=($!)
done
wait "${pids[@]}"
stop_platform
shard_dirs=()
for k in $(seq 0 $((SHARDS - 1))); do shard_dirs+=("$WORK/shard-$k"); done
"$BIN" merge "${shard_dirs[@]}" --out "$WORK/merged" >"$WORK/merge.out" 2>"$WORK/merge.err" || {
  [ $? -eq 1 ] || { cat "$WORK/merge.err" >&2; exit 2; }
}

python3 - "$WORK" "$SHARDS" <<'PY'
import json, os, sys
work, shards = sys.argv[1], int(sys.argv[2])
def report(d): return json.load(open(os.path.join(work, d, "report.json")))
def cpu(d):
    rss, u, s = open(os.path.join(work, d + ".time")).read().split()[-3:]
    return int(rss), float(u) + float(s)
def ld(r): return {q["id"]: q for q in r["requirements"] if q["id"] in ("LD-1", "LD-2")}
single, merged = report("single"), report("merged")
s_rss, s_cpu = cpu("single")
s_req = single["population"]["requests"]
k_cpu = sum(cpu(f"shard-{k}")[1] for k in range(shards))
k_rss = max(cpu(f"shard-{k}")[0] for k in range(shards))
k_req = merged["population"]["requests"]
print(f"harness CPU per request: one process {s_cpu*1e6/max(s_req,1):.1f} us ({s_req} requests, {s_cpu:.1f} CPU s, peak RSS {s_rss/1024:.0f} MiB); "
      f"{shards} shards {k_cpu*1e6/max(k_req,1):.1f} us ({k_req} requests, {k_cpu:.1f} CPU s, largest shard RSS {k_rss/1024:.0f} MiB)")
sp, mp = ld(single)["LD-1"]["figures"].get("peak_p99_ms", {}), ld(merged)["LD-1"]["figures"].get("peak_p99_ms", {})
for op in sorted(set(sp) | set(mp)):
    print(f"  p99 at peak {op:<22} one process {sp.get(op, '-'):>8} ms   merged {mp.get(op, '-'):>8} ms")
m = merged["run"]["merged"]
print(f"start: largest skew {m['largest_start_skew_s']} s against the agreed instant, largest clock offset "
      f"{m.get('largest_clock_offset_s', '-')} s against the platform's Date, spread {m['start_spread_s']} s (bound {m['start_spread_bound_s']} s)")
for sh in m["shards"]:
    print(f"  shard {sh['index']}: skew {sh['skew_s']} s, clock offset {sh.get('clock_offset_s', '-')} s")
for name, r in (("one process", single), ("merged", merged)):
    print(f"{name}: " + ", ".join(f"{i} {q['verdict']}" for i, q in ld(r).items())
          + f"; most active {ld(r)['LD-1']['figures'].get('most_learners_active')} of {ld(r)['LD-1']['figures'].get('declared_peak_learners')}")
PY
