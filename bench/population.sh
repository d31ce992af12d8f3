#!/usr/bin/env bash
# Population benchmark (loopback only). Figures:
#  - duxue: N concurrent learners (default 10,000) in one harness process against the reference
#    platform served by a separate process; harness peak RSS per learner (marginal: the N run
#    against a 100-learner run), harness CPU per request over the hold (from load/harness.json);
#  - bare goose 0.19 (harness/examples/bare_goose.rs) sending the same heartbeat pattern (one
#    POST per learner every 10 s at clock scale 1) to the same endpoint: CPU per request and
#    peak RSS per user, from /usr/bin/time;
#  - wrk saturating the same endpoint with the same POST: CPU per request;
#  - where one process runs out: file-descriptor limit and ephemeral ports.
#  The harness's CPU is given whole and without the synthetic media it makes (registration
#  photos, liveness frames, captures: CPU time measured per media job), since bare goose and wrk
#  send no images.
# Usage: bench/population.sh [LEARNERS] [RAMP_UP_S] [HOLD_S]; BENCH_KEEP=DIR keeps the runs there.
set -euo pipefail
cd "$(dirname "$0")/.."
LEARNERS="${1:-10000}"
RAMP="${2:-300}"
HOLD="${3:-60}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -p duxue-harness --bin duxue --example bare_goose
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d)"
TOKEN="bench-$RANDOM$RANDOM"
PORT=$((20000 + RANDOM % 20000))
ulimit -n "$(ulimit -Hn)" || true
"$BIN/duxue" platform serve --address 127.0.0.1 --port "$PORT" --database "$WORK/platform.sqlite" \
  --conformance-token "$TOKEN" >"$WORK/platform.log" 2>&1 &
PLATFORM=$!
trap 'kill $PLATFORM 2>/dev/null || true; if [ -n "${BENCH_KEEP:-}" ]; then rm -rf "$BENCH_KEEP"; mv "$WORK" "$BENCH_KEEP"; else rm -rf "$WORK"; fi' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/profile/v1/meta" >/dev/null && break; sleep 0.2; done
URL="http://127.0.0.1:$PORT"

run_duxue() { # learners ramp hold out
  /usr/bin/time -f '%M %U %S' -o "$4.time" "$BIN/duxue" certify --target "$URL" --token "$TOKEN" \
    --only SC-4 --seed 1 --learners "$1" --population-clock-scale 1 --ramp-up "$2" --hold "$3" \
    --ramp-down 5 --out "$4" >/dev/null 2>"$4.err" || true
}
echo "duxue: 100 learners (baseline for memory)"
run_duxue 100 10 20 "$WORK/small"
echo "duxue: $LEARNERS learners, ramp $RAMP s, hold $HOLD s"
run_duxue "$LEARNERS" "$RAMP" "$HOLD" "$WORK/big"
echo "bare goose: $LEARNERS users, one heartbeat per 10 s each"
/usr/bin/time -f '%M %U %S' -o "$WORK/goose.time" "$BIN/examples/bare_goose" --host "$URL" \
  --users "$LEARNERS" --interval-ms 10000 --ramp-up 30 --hold "$HOLD" >"$WORK/goose.json"
echo "wrk: the same POST, 2 threads, 64 connections, 15 s"
cat >"$WORK/heartbeat.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"position_seconds": 12.5, "rate": 1.0, "focused": true}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer tok_bench"
LUA
/usr/bin/time -f '%M %U %S' -o "$WORK/wrk.time" wrk -t2 -c64 -d15s -s "$WORK/heartbeat.lua" \
  "$URL/profile/v1/playbacks/pb_bench/heartbeats" >"$WORK/wrk.txt"

python3 - "$WORK" "$LEARNERS" <<'PY'
import json, re, sys, os
work, n = sys.argv[1], int(sys.argv[2])
def tm(p):
    rss, u, s = open(p).read().split()[-3:]
    return int(rss), float(u) + float(s)
def report(d):
    return json.load(open(os.path.join(d, "report.json")))
small_rss, _ = tm(f"{work}/small.time")
big_rss, big_cpu = tm(f"{work}/big.time")
h = json.load(open(f"{work}/big/load/harness.json"))
r = report(f"{work}/big")
pop = r.get("population") or {}
active = max((t["active"] for t in pop.get("timeline", [])), default=0)
ld = {q["id"]: q["verdict"] for q in r["requirements"] if q["id"].startswith("LD")}
g_rss, g_cpu = tm(f"{work}/goose.time")
g = json.loads(open(f"{work}/goose.json").read().strip().splitlines()[-1])
w_rss, w_cpu = tm(f"{work}/wrk.time")
wrk_text = open(f"{work}/wrk.txt").read()
w_req = int(re.search(r"(\d+) requests in", wrk_text).group(1))
per_learner = (big_rss - small_rss) * 1024 / max(n - 100, 1)
duxue_us = h["cpu_us_per_request_hold"]
duxue_lean_us = h["cpu_us_per_request_hold_without_media"]
goose_us = g_cpu * 1e6 / max(g["requests"], 1)
wrk_us = w_cpu * 1e6 / max(w_req, 1)
print(f"learners declared {n}, most active at once {active}, LD: {ld}")
print(f"duxue harness peak RSS {big_rss/1024:.0f} MiB; marginal per learner {per_learner/1024:.1f} KB (target <= 64 KB)")
print(f"duxue harness CPU per request over the hold: {duxue_us:.1f} us whole, {duxue_lean_us:.1f} us without media ({h['requests_hold']} requests, media {h['media_cpu_seconds_hold']:.1f} of {h['cpu_seconds_hold']:.1f} CPU s in {h.get('media_jobs_hold', 0)} jobs, {h.get('media_cpu_ms_per_job_hold', 0):.1f} ms each)")
print(f"bare goose: {g['requests']} requests, {goose_us:.1f} us CPU per request, peak RSS {g_rss/1024:.0f} MiB ({g_rss*1024/n/1024:.1f} KB per user)")
print(f"wrk: {w_req} requests, {wrk_us:.1f} us CPU per request")
print(f"ratio duxue / bare goose: {duxue_us/goose_us:.2f} whole, {duxue_lean_us/goose_us:.2f} without media (target <= 1.5); duxue / wrk: {duxue_us/wrk_us:.1f} whole")
print(f"fd limit {os.popen('ulimit -n').read().strip()}; ephemeral ports {open('/proc/sys/net/ipv4/ip_local_port_range').read().split()} per destination")
PY
