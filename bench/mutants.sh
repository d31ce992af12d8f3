#!/usr/bin/env bash
# Detection power measured by mutation testing (loopback only): cargo-mutants makes mutants of
# the reference platform's domain code (reference-platform/src/domain: the controls themselves)
# and, for each, runs `tests/mutant_certify.rs`: `duxue certify` on the mutated bundled
# platform, a short population phase included, which must say CERTIFIED. A mutant is killed
# when certify says NOT_CERTIFIED (the test fails), unviable when it does not build; a timeout
# counts neither way. Mutation score = killed / (killed + missed). Every missed mutant (a
# survivor) is listed for triage: equivalent (why), or a probe gap (fix it, or write it down).
# Usage: bench/mutants.sh [SHARDS] [SEED]
#   runs one shard of SHARDS (default 20, about 1/20th of the mutants), chosen by SEED (default:
#   today's day number), in a release build. `bench/mutants.sh 1` runs every mutant (hours).
#   BENCH_LIST=1 only lists the mutants of that shard. Needs a quiet machine: every mutant is an
#   incremental release build of the platform and the harness plus one certify run.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS="${1:-20}"
SEED="${2:-$(( $(date +%s) / 86400 ))}"
for n in "$SHARDS" "$SEED"; do
  case "$n" in ''|*[!0-9]*) echo "bench/mutants.sh: SHARDS and SEED are numbers, not '$n'" >&2; exit 2 ;; esac
done
if ! command -v cargo-mutants >/dev/null; then
  cargo install --locked cargo-mutants
fi
SHARD=$(( SEED % SHARDS ))
OUT="${BENCH_OUT:-target/mutants}"
mkdir -p "$OUT"
common=(--package duxue-reference-platform --file 'reference-platform/src/domain/**'
        --shard "$SHARD/$SHARDS" --output "$OUT")
if [ -n "${BENCH_LIST:-}" ]; then
  cargo mutants "${common[@]}" --list
  exit 0
fi
echo "mutants: shard $SHARD of $SHARDS (seed $SEED) of $(cargo mutants "${common[@]}" --list | wc -l) mutants in this shard"
start=$(date +%s)
# The mutated platform is tested by the harness package's certify test, in release (the probes
# run at the accelerated clock and are timed). cargo-mutants exits non-zero when a mutant
# survives; the figures below say which.
cargo mutants "${common[@]}" --test-package duxue-harness --cargo-arg=--release \
  --timeout 900 -- --test mutant_certify -- --ignored || true
echo "wall: $(( $(date +%s) - start )) s"
python3 - "$OUT/mutants.out/outcomes.json" <<'PY'
import json, sys
outcomes = json.load(open(sys.argv[1]))
tally = {}
survivors = []
for o in outcomes.get("outcomes", []):
    scenario = o.get("scenario")
    if not isinstance(scenario, dict) or "Mutant" not in scenario:
        continue  # the baseline
    summary = o.get("summary")
    tally[summary] = tally.get(summary, 0) + 1
    if summary == "MissedMutant":
        m = scenario["Mutant"]
        where = m.get("span", {}).get("start", {})
        survivors.append(f"{m.get('file')}:{where.get('line')}: {m.get('function', {}).get('function_name')}: "
                         f"replace {m.get('genre')} {m.get('replacement')}")
killed, missed = tally.get("CaughtMutant", 0), tally.get("MissedMutant", 0)
print("outcomes:", ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
if killed + missed:
    print(f"mutation score: {killed}/{killed + missed} = {killed / (killed + missed):.3f} "
          "(killed / (killed + missed); unviable and timeouts excluded)")
else:
    print("mutation score: no mutant built and ran to a verdict")
for s in survivors:
    print("  survivor:", s)
PY
