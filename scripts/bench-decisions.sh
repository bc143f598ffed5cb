#!/usr/bin/env bash
# How sharp an answer the same minutes buy: `noa bench` with today's fixed allocation
# (every suite's sample, the same for every model) against sequential allocation
# (rounds that go on only where a use case is still undecided), the same time budget,
# the same packaged default models, in one run. Counted from each run's decisions:
#   comparisons settled  leader-vs-rival pairs that are `ahead` or `tied`
#   use cases decided    use cases `settled` or `tied`
# Target: sequential settles >= 2x as many comparisons as fixed.
#
# usage: scripts/bench-decisions.sh [--budget 4m] [--rounds 1]
# env:   NOA_PIP_CACHE (wheels), NOA_EVALSETS_DIR (default ../shared/data), NOA_DEC_HOME
#        (a NOA_HOME to reuse, so the default models are pulled once)
set -euo pipefail
cd "$(dirname "$0")/.."

budget=4m
rounds=1
while [ $# -gt 0 ]; do
  case $1 in
    --budget) budget=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    *) echo "error: unknown argument \`$1\`" >&2; exit 2 ;;
  esac
  shift
done
py=${NOA_PYTHON:-python3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/noa/target}
export NOA_PIP_CACHE=${NOA_PIP_CACHE:-$HOME/.cache/noa/wheels}
if [ -z "${NOA_EVALSETS_DIR:-}" ] && [ -d ../shared/data ]; then
  export NOA_EVALSETS_DIR=$(cd ../shared/data && pwd)
fi
cargo build --release -q --bin noa
noa=$CARGO_TARGET_DIR/release/noa
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export NOA_HOME=${NOA_DEC_HOME:-$HOME/.cache/noa/decisions-home}
"$noa" -q models pull --defaults
"$noa" -q evalsets pull >/dev/null 2>&1 || true

for round in $(seq 1 "$rounds"); do
  for how in fixed sequential; do
    echo "round $round: $how allocation, budget $budget (load average $(cut -d" " -f1 /proc/loadavg))" >&2
    "$noa" bench --allocation "$how" --time-budget "$budget" --no-cache --no-registry --json \
      >"$out/$how-$round.json"
  done
done

"$py" - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])

def tally(doc):
    ds = [d for d in doc["decisions"] if d["use_case"] != "general"]
    pairs = [p for d in ds for p in d["pairs"]]
    settled = sum(p["status"] in ("ahead", "tied") for p in pairs)
    decided = sum(d["status"] in ("settled", "tied") for d in ds)
    return settled, len(pairs), decided, len(ds), doc["items_ran"]

totals = {"fixed": [0, 0, 0, 0, 0], "sequential": [0, 0, 0, 0, 0]}
for r in range(1, rounds + 1):
    for how in totals:
        with open(f"{out}/{how}-{r}.json") as f:
            doc = json.load(f)
        t = tally(doc)
        totals[how] = [a + b for a, b in zip(totals[how], t)]
        print(f"round {r} {how:<10} comparisons settled {t[0]}/{t[1]}, use cases decided {t[2]}/{t[3]}, items {t[4]}")
        for d in doc["decisions"]:
            pairs = "; ".join(f'{p["rival"]} {p["mean"]:+.3f} [{p["ci_low"]:+.3f}, {p["ci_high"]:+.3f}] {p["status"]}' for p in d["pairs"])
            need = f' (~{d["further_items"]} more)' if d.get("further_items") else ""
            print(f'    {d["use_case"]:<22} {d["status"]:<8}{need} {d["leader"]}: {pairs}')
f, s = totals["fixed"], totals["sequential"]
ratio = s[0] / f[0] if f[0] else float("inf") if s[0] else float("nan")
print(f"settled comparisons: sequential {s[0]}, fixed {f[0]}: ratio {ratio:.2f} (target >= 2)")
print(f"use cases decided: sequential {s[2]}/{s[3]}, fixed {f[2]}/{f[3]}")
PY
