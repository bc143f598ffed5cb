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
# The workload's own token mix, for the ceiling below: what each item decoded itself
# (its prompt after the shared prefix) and generated.
pp = sum(r["prompt_tokens"] - r.get("shared_tokens", 0) for r in bi.values()) / len(bi)
tg = sum(r["gen_tokens"] for r in bi.values()) / len(bi)
open(f"{home}/mix", "w").write(f"{max(1, round(pp))} {max(1, round(tg))}\n")
print(f"mean tokens per item: {pp:.0f} prompt decoded (after the shared prefix), {tg:.0f} generated")
PY

# The llama-batched-bench built on the very llama.cpp noa links (scripts/bench-speed.sh).
lbb="$(scripts/bench-speed.sh --build-only)/llama-batched-bench"
if [ -x "$lbb" ]; then
  # Two ceilings: generation alone (128 prompt + 128 generated tokens, the usual
  # figure), and the same mix of prompt and generated tokens per sequence as the suite
  # had (total tokens/s, prompt processing included), which is what batching this
  # workload can gain at most.
  read -r npp ntg < "$home/mix"
  "$lbb" -m "$model" -t "${NOA_THREADS:-$(nproc)}" -c $((2048 * batch)) -b 512 -ub 512 \
    -npp "128,$npp" -ntg "128,$ntg" -npl "1,$batch" -fa "${NOA_FLASH_ATTN:-off}" 2>/dev/null |
    python3 -c '
import sys
rows = [[c.strip() for c in l.split("|")] for l in sys.stdin if l.startswith("|") and l.split("|")[1].strip().isdigit()]
# columns: PP, TG, B, N_KV, T_PP s, S_PP t/s, T_TG s, S_TG t/s, T s, S t/s
by = {(int(r[1]), int(r[2]), int(r[3])): r for r in rows}
ours = float(open(sys.argv[1]).read())
npp, ntg = map(int, open(sys.argv[2]).read().split())
bs = sorted({k[2] for k in by})
lo, hi = bs[0], bs[-1]
tg = lambda b: float(by[(128, 128, b)][8])
print(f"llama-batched-bench, generation alone: {tg(hi):.1f} t/s at {hi} sequences vs {tg(lo):.1f} t/s at {lo} = {tg(hi) / tg(lo):.2f}x")
print(f"noa batching reaches {ours / (tg(hi) / tg(lo)):.2f} of that ceiling (target >= 0.8)")
if (npp, ntg, hi) in by:
    s = lambda b: float(by[(npp, ntg, b)][10])
    c = s(hi) / s(lo)
    print(f"llama-batched-bench, this suite mix ({npp} prompt + {ntg} generated tokens per sequence): {s(hi):.1f} t/s at {hi} vs {s(lo):.1f} t/s at {lo} = {c:.2f}x")
    print(f"noa batching reaches {ours / c:.2f} of the ceiling for its own token mix")
' "$home/batching-ratio" "$home/mix"
else
  echo "(llama-batched-bench not built: scripts/bench-speed.sh --build-only builds it)" >&2
fi
