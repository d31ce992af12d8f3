#!/usr/bin/env bash
# Detection power measured by mutation testing (loopback only): cargo-mutants makes mutants of
# the reference platform's controls (reference-platform/src/domain, biometrics.rs and
# controls.rs; not domain/conformance.rs or domain/production.rs, which make fixtures and the
# production catalogue rather than enforce anything) and, for each, runs
# `tests/mutant_certify.rs`: `duxue certify` on the mutated bundled platform, a short population
# phase included, which must say CERTIFIED. A mutant is killed when certify says NOT_CERTIFIED
# (the test fails), unviable when it does not build; a timeout counts neither way. Mutation
# score = killed / (killed + missed), printed with n and its one-sided 95% Clopper–Pearson lower
# bound. Every missed mutant (a survivor) is listed for triage: equivalent (why), or a probe gap
# (fix it, or write it down).
# Usage: bench/mutants.sh [SHARDS] [SEED]
#   runs one shard of SHARDS (default 90, about 10 of the ~915 mutants), chosen by SEED
#   (default: today's day number). Shards are round-robin (mutant i in shard i % SHARDS), so a
#   shard is a sample spread over every file, not one function's run of mutants.
#   `bench/mutants.sh 1` runs every mutant (days). BENCH_LIST=1 only lists the shard's mutants.
# The mutants are made in a git worktree of HEAD under target/ (cargo-mutants --in-place there),
# built into this tree's target/ so that the release dependencies are not built again; your
# working tree is never touched. Needs a quiet machine: every mutant is an incremental release
# build plus one certify run with timed probes.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS="${1:-90}"
SEED="${2:-$(( $(date +%s) / 86400 ))}"
for n in "$SHARDS" "$SEED"; do
  case "$n" in ''|*[!0-9]*) echo "bench/mutants.sh: SHARDS and SEED are numbers, not '$n'" >&2; exit 2 ;; esac
done
if ! command -v cargo-mutants >/dev/null; then
  cargo install --locked cargo-mutants
fi
SHARD=$(( SEED % SHARDS ))
BENCH="$PWD/bench"
OUT="$PWD/${BENCH_OUT:-target/mutants}"
TREE="$PWD/target/mutants-tree"
mkdir -p "$OUT"
git worktree remove --force "$TREE" 2>/dev/null || rm -rf "$TREE"
git worktree prune
git worktree add --detach --quiet "$TREE" HEAD
trap 'git worktree remove --force "$TREE" 2>/dev/null || true' EXIT
export CARGO_TARGET_DIR="$PWD/target"
cd "$TREE"
common=(--package duxue-platform
        --file 'reference-platform/src/domain/**' --file reference-platform/src/biometrics.rs
        --file reference-platform/src/controls.rs
        --exclude reference-platform/src/domain/conformance.rs
        --exclude reference-platform/src/domain/production.rs
        --shard "$SHARD/$SHARDS" --sharding round-robin --output "$OUT")
if [ -n "${BENCH_LIST:-}" ]; then
  cargo mutants "${common[@]}" --list
  exit 0
fi
echo "mutants: shard $SHARD of $SHARDS (seed $SEED) of $(cargo mutants "${common[@]}" --list | wc -l) mutants in this shard"
start=$(date +%s)
# The baseline: the unmutated platform must certify, or no mutant's outcome means anything.
# Run here, not by cargo-mutants, whose baseline (27.1) tests the mutated package and not
# --test-package's.
if ! cargo test --release -p duxue-harness --test mutant_certify -- --ignored \
    >"$OUT/baseline.log" 2>&1; then
  echo "bench/mutants.sh: the unmutated platform did not certify (a loaded machine?); see $OUT/baseline.log" >&2
  exit 1
fi
echo "baseline: the unmutated platform certified in $(( $(date +%s) - start )) s (build included)"
# The mutated platform is tested by the harness package's certify test, in release (the probes
# run at the accelerated clock and are timed). cargo-mutants exits non-zero when a mutant
# survives; the figures below say which.
# --cargo-arg reaches the build too: only the one test binary is built for each mutant.
cargo mutants "${common[@]}" --in-place --baseline skip --test-package duxue-harness \
  --cargo-arg=--release --cargo-arg=--test=mutant_certify --timeout 900 -- -- --ignored || true
echo "wall: $(( $(date +%s) - start )) s"
python3 - "$OUT/mutants.out/outcomes.json" "$BENCH" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[2])
from stats import lower_bound
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
n = killed + missed
if n:
    lo = lower_bound(killed, n)
    print(f"mutation score: {killed}/{n} = {killed / n:.3f}, one-sided 95% lower bound {lo:.3f} "
          "(killed / (killed + missed); unviable and timeouts excluded)")
else:
    print("mutation score: no mutant built and ran to a verdict")
for s in survivors:
    print("  survivor:", s)
PY
