#!/usr/bin/env bash
# Batched `noa bench` vs a one-request-at-a-time loop over the same engine, same
# model, same suite items, run back to back on this machine; and the batched run with
# the suite's shared prompt prefix decoded once per model (the default) vs decoded
# for every item (`--no-prefix-share`, what noa did before). Prints items/s of each,
# the ratios and how many items scored the same.
#
#   scripts/bench-batching.sh [model-file] [suite] [limit] [batch]
#
# Defaults: the Gemma 3 270M base test model, gsm8k (a base model gets the three-shot
# prompt), 32 items, batch 8. Needs the release binary (cargo build --release) and
# NOA_EVALSETS_DIR for mirror suites (defaults to ../shared/data when that exists).
#
# For scale it then runs llama.cpp's own llama-batched-bench on the same model, built
# by `scripts/bench-speed.sh --build-only` on the llama.cpp noa links (built there once
# when missing): the generation tokens/s of `batch` sequences against one, which is as
# much as batching can give on this machine, and how much of it noa's batching reaches.
set -euo pipefail
cd "$(dirname "$0")/.."
models_dir="${NOA_TEST_MODELS_DIR:-$HOME/.cache/noa/test-models}"
model="${1:-$models_dir/gemma-3-270m.gguf}"
suite="${2:-gsm8k}"
limit="${3:-32}"
batch="${4:-8}"
target="${CARGO_TARGET_DIR:-target}"
noa="$target/release/noa"
[ -x "$noa" ] || { echo "build first: cargo build --release" >&2; exit 2; }
[ -f "$model" ] || { echo "model $model missing: run scripts/test-models.sh" >&2; exit 2; }
if [ -z "${NOA_EVALSETS_DIR:-}" ] && [ -d ../shared/data ]; then export NOA_EVALSETS_DIR="$(cd ../shared/data && pwd)"; fi
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
export NOA_HOME="$home"
python3 - "$model" "$home/models.json" <<'PY'
import hashlib, json, os, sys
path, out = sys.argv[1], sys.argv[2]
h = hashlib.sha256()
with open(path, "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
entry = {"id": "model", "family": "llama", "file": {"path": os.path.abspath(path), "size": os.path.getsize(path),
         "sha256": h.hexdigest(), "verified_at": "2026-01-01T00:00:00Z"},
         "declared": {"use_cases": ["qa"], "privacy": "local"}}
json.dump({"schema": 1, "hosts": [], "models": [entry]}, open(out, "w"))
PY
run() {
  "$noa" --quiet bench --models model --suites "$suite" --limit "$limit" --batch "$@" \
    --no-cache --no-registry --json
}
echo "suite $suite, $limit items, model $(basename "$model")" >&2
run "$batch" > "$home/batched.json"
run "$batch" --no-prefix-share > "$home/unshared.json"
run 1 > "$home/single.json"
python3 - "$home" <<'PY'
import json, sys
home = sys.argv[1]
def load(name):
    s = json.load(open(f"{home}/{name}.json"))
    items = [json.loads(l) for l in open(f"{home}/runs/{s['run_id']}/items.jsonl")]
    return s, {r["item_id"]: r for r in items}
bs, bi = load("batched")
us, ui = load("unshared")
ss, si = load("single")
rate = lambda s: s["items_ran"] / s["wall_s"]
def same(a, b):
    scores = sum(1 for k in a if k in b and a[k]["score"] == b[k]["score"])
    texts = sum(1 for k in a if k in b and a[k]["output"] == b[k]["output"])
    return f"identical scores {scores}/{len(a)}, identical outputs {texts}/{len(a)}"
mean = lambda items: sum(r["score"] for r in items.values()) / len(items)
for name, s, items in [("batched, prefix shared", bs, bi), ("batched, prefix per item", us, ui), ("one at a time, shared", ss, si)]:
    print(f"{name}: {s['items_ran']} items in {s['wall_s']:.1f} s = {rate(s):.2f} items/s, mean score {mean(items):.3f}")
print(f"prefix shared vs per item: {rate(bs) / rate(us):.2f}x (target >= 2x); {same(bi, ui)}")
print(f"batched vs one at a time: {rate(bs) / rate(ss):.2f}x; {same(bi, si)}")
open(f"{home}/batching-ratio", "w").write(f"{rate(bs) / rate(ss)}")
PY

# The llama-batched-bench built on the very llama.cpp noa links (scripts/bench-speed.sh).
lbb="$(scripts/bench-speed.sh --build-only)/llama-batched-bench"
if [ -x "$lbb" ]; then
  "$lbb" -m "$model" -t "${NOA_THREADS:-$(nproc)}" -c $((256 * batch)) -b 512 -ub 512 \
    -npp 128 -ntg 128 -npl "1,$batch" -fa "${NOA_FLASH_ATTN:-off}" 2>/dev/null |
    python3 -c '
import sys
rows = [l.split("|") for l in sys.stdin if l.startswith("|") and l.split("|")[1].strip().isdigit()]
tg = {int(r[3]): float(r[8]) for r in rows}
lo, hi = min(tg), max(tg)
ceiling = tg[hi] / tg[lo]
ours = float(open(sys.argv[1]).read())
print(f"llama-batched-bench, generation: {tg[hi]:.1f} t/s at {hi} sequences vs {tg[lo]:.1f} t/s at {lo} = {ceiling:.2f}x (the ceiling batching can reach here)")
print(f"noa batching reaches {ours / ceiling:.2f} of that ceiling (target >= 0.8)")
' "$home/batching-ratio"
else
  echo "(llama-batched-bench not built: scripts/bench-speed.sh --build-only builds it)" >&2
fi
