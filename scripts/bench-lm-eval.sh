#!/usr/bin/env bash
# Score agreement with lm-evaluation-harness: the same model, the same items and the
# same prompt text, scored once by `noa bench` and once by lm-eval, in one run.
#
#   scripts/bench-lm-eval.sh [model-file] [mc-items] [gen-items]   (0 items: skip that half)
#
# Suites: ARC-Easy (multiple choice by log-likelihood) and GSM8K (generation, numeric
# answer). noa runs them first and records every item's exact prompt; lm-eval is then
# given those prompts through a task of its own (`--include_path`), so what differs is
# the harness — how it computes log-likelihoods, generates and extracts the answer —
# not the wording. lm-eval talks to llama.cpp through llama-cpp-python's
# OpenAI-compatible server (its `gguf` model for log-likelihoods, needing `echo` with
# logprobs; `local-completions` for generation, which passes `max_gen_toks`).
#
# lm-eval (`lm_eval[api]`, no torch) and llama-cpp-python (built once from its source
# distribution for this CPU) go into a virtual environment under $NOA_PEERS_DIR
# (default ~/.cache/noa/peers). Prints both scores per suite, the per-item
# disagreement rate, and for ARC-Easy how far the two engines' log-probabilities are
# apart.
#
# Defaults: the Gemma 3 270M test model (a base model: plain prompts on both sides),
# 20 ARC-Easy items, 10 GSM8K items. Needs NOA_EVALSETS_DIR (defaults to
# ../shared/data when that exists). NOA_LM_EVAL_KEEP=1 keeps the work folder (lm-eval
# logs, samples).
#
# The multiple-choice half needs a model whose tokenizer adds a BOS token (Gemma does,
# SmolLM2 does not): llama-cpp-python 0.3.36 pairs each echoed prompt token with the
# logits of the position that predicts it only by dropping a leading BOS, so without
# one every prompt log-probability is that of the token after it (its issue 1983). The
# script probes this on a repeated sentence and stops with an error rather than report
# a comparison against misaligned numbers. The peer is slow: per echoed token it sorts
# the whole vocabulary in Python for the top-10 alternatives lm-eval's `gguf` model
# asks for, ~9 s per choice on Gemma 3 270M (262k vocabulary) whatever n_ctx is, so 20
# items of four choices take about 13 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
models_dir=${NOA_TEST_MODELS_DIR:-$HOME/.cache/noa/test-models}
model=${1:-$models_dir/gemma-3-270m.gguf}
mc_items=${2:-20}
gen_items=${3:-10}
py=${NOA_PYTHON:-python3}
peers=${NOA_PEERS_DIR:-$HOME/.cache/noa/peers}
lcp_version=${NOA_LLAMA_CPP_PYTHON_VERSION:-0.3.36}
lm_eval_version=${NOA_LM_EVAL_VERSION:-0.4.13}
threads=${NOA_SPEED_THREADS:-2}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/noa/target}
if [ -z "${NOA_EVALSETS_DIR:-}" ] && [ -d ../shared/data ]; then
  NOA_EVALSETS_DIR="$(cd ../shared/data && pwd)"
  export NOA_EVALSETS_DIR
fi
[ -n "${NOA_EVALSETS_DIR:-}" ] || { echo "error: set NOA_EVALSETS_DIR to the evaluation data mirror" >&2; exit 2; }
[ -f "$model" ] || { echo "error: \`$model\` is missing" >&2; echo "hint: run scripts/test-models.sh" >&2; exit 2; }

venv=$peers/venv
if ! "$venv/bin/python" -c "import lm_eval, llama_cpp.server" 2>/dev/null; then
  echo "installing lm-eval $lm_eval_version and llama-cpp-python $lcp_version into $venv (once)" >&2
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  "$venv/bin/pip" install -q "lm_eval[api]==$lm_eval_version"
  # The same complete llama.cpp that scripts/bench-speed.sh builds llama-bench from,
  # compiled for this CPU.
  CMAKE_ARGS="-DGGML_NATIVE=ON -DLLAMA_CURL=OFF" "$venv/bin/pip" install -q \
    --no-binary llama-cpp-python "llama-cpp-python[server]==$lcp_version"
fi

cargo build --release -q --bin noa
noa=$CARGO_TARGET_DIR/release/noa
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  if [ "${NOA_LM_EVAL_KEEP:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
export NOA_HOME=$work/home
"$noa" -q models add "$model" --id model >/dev/null

echo "noa bench: arc-easy ($mc_items items), gsm8k ($gen_items items) on $(basename "$model")" >&2
[ "$mc_items" -gt 0 ] && "$noa" -q bench --models model --suites arc-easy --limit "$mc_items" \
  --no-cache --no-registry --threads "$threads" --json >"$work/noa-arc.json"
[ "$gen_items" -gt 0 ] && "$noa" -q bench --models model --suites gsm8k --limit "$gen_items" \
  --no-cache --no-registry --threads "$threads" --json >"$work/noa-gsm8k.json"

# lm-eval tasks over exactly those items and prompts.
"$venv/bin/python" - "$work" "$NOA_EVALSETS_DIR" <<'PY'
import json, os, sys
work, data = sys.argv[1], sys.argv[2]
def items(name):
    run = json.load(open(f"{work}/noa-{name}.json"))["run_id"]
    return [json.loads(l) for l in open(f"{work}/home/runs/{run}/items.jsonl")]
if os.path.exists(f"{work}/noa-arc.json"):
    arc = {d["id"]: d for d in json.load(open(f"{data}/arc-easy/test.json"))}
    with open(f"{work}/arc.jsonl", "w") as out:
        for r in items("arc"):
            d = arc[r["item_id"]]
            gold = d["choices"]["label"].index(d["answerKey"])
            out.write(json.dumps({"id": r["item_id"], "prompt": r["prompt"],
                                  "choices": d["choices"]["text"], "gold": gold}) + "\n")
if os.path.exists(f"{work}/noa-gsm8k.json"):
    lines = open(f"{data}/gsm8k-train/train.jsonl").read().splitlines()
    with open(f"{work}/gsm8k.jsonl", "w") as out:
        for r in items("gsm8k"):
            source = json.loads(lines[int(r["item_id"].lstrip("#"))])
            assert source["question"] in r["prompt"], f"item {r['item_id']} is not that line"
            out.write(json.dumps({"id": r["item_id"], "prompt": r["prompt"],
                                  "answer": source["answer"]}) + "\n")
PY
# Where noa's generation stops: a base model's few-shot prompt ends in "Answer:" and
# stops at the next question (gsm8k.rs); a chat prompt stops at the end of the turn,
# which lm-eval is told as the model's end-of-sequence text.
until=
[ "$gen_items" -gt 0 ] && until=$("$venv/bin/python" - "$work" "$model" 2>/dev/null <<'PY'
import json, sys
work, model = sys.argv[1], sys.argv[2]
prompts = [json.loads(l)["prompt"] for l in open(f"{work}/gsm8k.jsonl")]
if all(p.rstrip().endswith("Answer:") for p in prompts):
    print(json.dumps(["\nQuestion:", "\n\n"]))
else:
    from llama_cpp import Llama
    llm = Llama(model, vocab_only=True, verbose=False)
    print(json.dumps([llm.detokenize([llm.token_eos()], special=True).decode()]))
PY
)
mkdir -p "$work/tasks"
cat >"$work/tasks/noa_arc_easy.yaml" <<EOF
task: noa_arc_easy
dataset_path: json
dataset_kwargs: {data_files: {test: $work/arc.jsonl}}
test_split: test
output_type: multiple_choice
doc_to_text: prompt
doc_to_choice: choices
doc_to_target: gold
target_delimiter: " "
metric_list:
  - {metric: acc, aggregation: mean, higher_is_better: true}
  - {metric: acc_norm, aggregation: mean, higher_is_better: true}
EOF
# lm-eval's own gsm8k answer extraction ("flexible-extract": the last number), stopping
# where noa's generation stops. Greedy on both sides: llama-cpp-python's server applies
# a repeat penalty of 1.1 unless told otherwise (lm-eval passes unknown generation
# arguments through to the request).
cat >"$work/tasks/noa_gsm8k.yaml" <<EOF
task: noa_gsm8k
dataset_path: json
dataset_kwargs: {data_files: {test: $work/gsm8k.jsonl}}
test_split: test
output_type: generate_until
doc_to_text: prompt
doc_to_target: "{{answer.split('#### ')[-1]}}"
target_delimiter: ""
generation_kwargs:
  until: $until
  do_sample: false
  temperature: 0.0
  repeat_penalty: 1.0
  max_gen_toks: 256
filter_list:
  - name: flexible-extract
    filter:
      - {function: regex, group_select: -1, regex_pattern: "(-?[\$0-9.,]{2,})|(-?[0-9]+)"}
      - {function: take_first}
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore: [",", "\\\\$", "(?s).*#### ", "\\\\.$"]
EOF

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# llama-cpp-python's OpenAI-compatible server; `--logits_all true` for echoed prompt
# log-probabilities (the multiple-choice half only: it slows prefill).
start_server() {
  "$venv/bin/python" -m llama_cpp.server --model "$model" --host 127.0.0.1 --port "$port" \
    --n_ctx 2048 --n_threads "$threads" --n_threads_batch "$threads" --logits_all "$1" \
    --verbose false >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: llama-cpp-python's server did not start" >&2
  exit 1
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
lm_eval=("$venv/bin/lm_eval" --include_path "$work/tasks" --log_samples --batch_size 1)
if [ "$mc_items" -gt 0 ]; then
start_server true
# Are the echoed log-probabilities aligned? The second telling of a sentence is
# near-certain for any language model; misaligned numbers (each token scored by the
# position after it) make it as unlikely as the first.
"$venv/bin/python" - "$port" <<'PY' || exit 1
import json, sys, urllib.request
text = "one two three four five six seven eight nine ten eleven twelve"
body = {"prompt": f"{text}, {text}", "logprobs": 1, "echo": True, "max_tokens": 1, "temperature": 0}
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/completions",
                             json.dumps(body).encode(), {"content-type": "application/json"})
lp = json.load(urllib.request.urlopen(req))["choices"][0]["logprobs"]
offsets, values = lp["text_offset"], lp["token_logprobs"][:-1]
second = [v for o, v in zip(offsets, values) if o > len(text) + 1 and v is not None]
mean = sum(second) / len(second)
if mean < -1.0:
    sys.exit(f"error: the peer's echoed log-probabilities are misaligned (mean {mean:.2f} "
             "nats on a repeated sentence); llama-cpp-python needs a model that adds a BOS "
             "token for them (see this script's header)")
PY
echo "lm-eval: noa_arc_easy (gguf model)" >&2
"${lm_eval[@]}" --model gguf --model_args "base_url=http://127.0.0.1:$port" \
  --tasks noa_arc_easy --output_path "$work/lm-arc" >"$work/lm-arc.log" 2>&1 ||
  { tail -30 "$work/lm-arc.log" >&2; exit 1; }
stop_server
fi
if [ "$gen_items" -gt 0 ]; then
start_server false
echo "lm-eval: noa_gsm8k (local-completions, stops $until)" >&2
"${lm_eval[@]}" --model local-completions \
  --model_args "base_url=http://127.0.0.1:$port/v1/completions,model=model,tokenizer_backend=None,tokenized_requests=False,max_retries=1" \
  --tasks noa_gsm8k --output_path "$work/lm-gsm8k" >"$work/lm-gsm8k.log" 2>&1 ||
  { tail -30 "$work/lm-gsm8k.log" >&2; exit 1; }
stop_server
fi

"$venv/bin/python" - "$work" "$(basename "$model")" <<'PY'
import glob, json, os, statistics, sys
work, model = sys.argv[1], sys.argv[2]
def noa(name):
    run = json.load(open(f"{work}/noa-{name}.json"))["run_id"]
    return {r["item_id"]: r for r in map(json.loads, open(f"{work}/home/runs/{run}/items.jsonl"))}
def lm(name, task):
    path = glob.glob(f"{work}/lm-{name}/**/samples_{task}_*.jsonl", recursive=True)[0]
    return {s["doc"]["id"]: s for s in map(json.loads, open(path))}
print(f"model {model}")
def arc():
    # ARC-Easy: acc from the summed log-probabilities, acc_norm per character.
    n, l = noa("arc"), lm("arc", "noa_arc_easy")
    common = sorted(set(n) & set(l))
    def ours(k, metric):
        return float(json.loads(n[k]["detail"])[metric])
    gaps = []
    for k in common:
        theirs = [float(r[0]) for r in l[k]["filtered_resps"]]
        mine = json.loads(n[k]["detail"])["logprobs"]
        gaps += [abs(a - b) for a, b in zip(mine, theirs)]
    for metric in ("acc", "acc_norm"):
        a = sum(ours(k, metric) for k in common) / len(common)
        b = sum(float(l[k][metric]) for k in common) / len(common)
        dis = sum(ours(k, metric) != float(l[k][metric]) for k in common)
        print(f"arc-easy {metric:<8} noa {a:.3f}  lm-eval {b:.3f}  items {len(common)}  "
              f"disagree {dis} ({dis / len(common):.1%})")
    print(f"arc-easy choice log-prob |noa - lm-eval|: median {statistics.median(gaps):.4f}, "
          f"max {max(gaps):.4f} nats over {len(gaps)} choices")
def gsm8k():
    # GSM8K: each side's own answer extraction over its own generation.
    n, l = noa("gsm8k"), lm("gsm8k", "noa_gsm8k")
    common = sorted(set(n) & set(l), key=lambda k: int(k.lstrip("#")))
    a = sum(n[k]["score"] for k in common) / len(common)
    b = sum(float(l[k]["exact_match"]) for k in common) / len(common)
    dis = sum(n[k]["score"] != float(l[k]["exact_match"]) for k in common)
    pairs = [(n[k]["output"].strip(), l[k]["resps"][0][0].strip()) for k in common]
    same = sum(x == y for x, y in pairs)
    def common_prefix(x, y):
        i = 0
        while i < min(len(x), len(y)) and x[i] == y[i]:
            i += 1
        return i
    prefix = statistics.median(common_prefix(x, y) for x, y in pairs)
    print(f"gsm8k    exact    noa {a:.3f}  lm-eval {b:.3f}  items {len(common)}  "
          f"disagree {dis} ({dis / len(common):.1%})  identical generations {same}/{len(common)}"
          f"  (median common prefix {prefix:.0f} chars)")
if os.path.exists(f"{work}/noa-arc.json"):
    arc()
if os.path.exists(f"{work}/noa-gsm8k.json"):
    gsm8k()
PY
