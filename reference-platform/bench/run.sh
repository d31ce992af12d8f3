#!/usr/bin/env bash
# Benchmark of the reference platform on this machine (loopback only):
# logins with liveness per second, heartbeats/s with p50/p99 at 1,000 concurrent playbacks,
# and wrk against GET /profile/v1/meta of the same server as the ceiling.
# Usage: reference-platform/bench/run.sh [--learners N] [--scale S] [--seconds T]
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-platform}"
command -v wrk >/dev/null || echo "wrk not found (apt-get install -y wrk); the ceiling will be skipped" >&2
cargo build --release -p duxue-platform --example bench
"$CARGO_TARGET_DIR/release/examples/bench" --learners 1000 --scale 50 --seconds 20 --wrk "$@"
