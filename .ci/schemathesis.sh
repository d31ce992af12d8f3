#!/usr/bin/env bash
# Schemathesis against the reference platform: is profile/openapi.yaml as strict as the platform?
#
# Serves the reference platform on loopback with a fresh database, makes a learner (registered,
# logged in through liveness, enrolled, playing), a second learner for logout and an authority
# supervisor through the conformance API (scenarios/examples/conformance_accounts.rs), and runs
# Schemathesis's examples, coverage (positive and negative), fuzzing (positive and negative) and
# stateful phases with their tokens (.ci/schemathesis.toml). Fails on any server error, response
# that breaks its schema or status list, schema-valid request refused with 400, or
# schema-breaking request accepted. Reports go to target/schemathesis/ (run.log, junit.xml,
# run.ndjson, and summary.txt: cases generated, operations reached with credentials, failures).
#
# Usage: .ci/schemathesis.sh [MAX_EXAMPLES]   (per operation and phase; default from the toml)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
venv=target/schemathesis-venv
out=target/schemathesis
mkdir -p "$out"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$venv/bin/schemathesis" --version

# The same feature set as the workspace build, so nothing is compiled twice.
cargo build --quiet --workspace --bins --examples
duxue=target/debug/duxue
accounts=target/debug/examples/conformance_accounts

work=$(mktemp -d)
token="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$duxue" platform serve --port 0 --database "$work/platform.sqlite" \
  --conformance-token "$token" 2>"$work/serve.log" &
serve_pid=$!
trap 'kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[^ ]*/profile/v1' "$work/serve.log" | head -1 || true)
  [ -n "$url" ] && break
  kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "the reference platform did not say where it listens"; exit 1; }
base=${url%/profile/v1}
echo "reference platform at $url"

export DUXUE_CONFORMANCE_TOKEN="$token"
eval "$("$accounts" "$base" "$token")"

extra=()
if [ -n "${1:-}" ]; then extra+=(--max-examples "$1"); fi
rm -f "$out/run.ndjson" "$out/junit.xml"
status=0
"$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run profile/openapi.yaml \
  --url "$url" \
  --phases examples,coverage,fuzzing,stateful \
  --report junit,ndjson --report-junit-path "$out/junit.xml" \
  --report-ndjson-path "$out/run.ndjson" \
  --no-color "${extra[@]}" >"$out/run.log" 2>&1 || status=$?
tail -n 40 "$out/run.log"
"$venv/bin/python" .ci/schemathesis_summary.py profile/openapi.yaml "$out/run.ndjson" |
  tee "$out/summary.txt"
exit "$status"
