#!/usr/bin/env bash
# What running llama.cpp in a supervised worker process costs, against running it inside
# noa (`--in-process`), measured in one run on the same models, threads and machine,
# alternating the two so drift on a noisy machine hits both:
#   speed  `noa speed` pp and tg tokens/s (llama-bench style)      target ratio >= 0.98
#   bench  `noa bench` items/s on GSM8K (batched, no result cache)   target ratio >= 0.95
#   serve  time to first token of a streamed chat completion through `noa serve`,
#          measured at the client over loopback                     target p50 <= +1 ms
# Ratios are worker / in-process (higher is better for speed and bench).
#
# usage: scripts/bench-isolation.sh [--rounds N]
# env:   NOA_TEST_MODELS_DIR (models), NOA_EVALSETS_DIR (GSM8K; default ../shared/data),
#        NOA_ISO_THREADS (2), NOA_ISO_ITEMS (16), NOA_ISO_REQUESTS (40)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift ;;
    *) echo "error: unknown argument \`$1\`" >&2; exit 2 ;;
  esac
  shift
done
py=${NOA_PYTHON:-python3}
models_dir=${NOA_TEST_MODELS_DIR:-$HOME/.cache/noa/test-models}
threads=${NOA_ISO_THREADS:-2}
items=${NOA_ISO_ITEMS:-16}
requests=${NOA_ISO_REQUESTS:-40}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/noa/target}
if [ -z "${NOA_EVALSETS_DIR:-}" ] && [ -d ../shared/data ]; then
  export NOA_EVALSETS_DIR=$(cd ../shared/data && pwd)
fi
cargo build --release -q --bin noa
noa=$CARGO_TARGET_DIR/release/noa
models=(iso-smollm2-135m iso-gemma-3-270m)  # not catalog ids: registered in place
files=(smollm2-135m-instruct.gguf gemma-3-270m.gguf)
for f in "${files[@]}"; do
  [ -f "$models_dir/$f" ] || { echo "error: \`$models_dir/$f\` is missing; run scripts/test-models.sh" >&2; exit 1; }
done

out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
# One NOA_HOME per mode (noa serve holds a lock per home), the same models in both.
for mode in worker inproc; do
  export NOA_HOME=$out/home-$mode
  for i in 0 1; do "$noa" -q models add "$models_dir/${files[$i]}" --id "${models[$i]}" --use-case general >/dev/null; done
done
flag() { [ "$1" = inproc ] && echo --in-process || true; }

for round in $(seq 1 "$rounds"); do
  echo "round $round (load average $(cut -d" " -f1 /proc/loadavg))" >&2
  for i in 0 1; do
    for mode in worker inproc; do
      NOA_HOME=$out/home-$mode "$noa" -q speed ${models[$i]} -t "$threads" -p 512 -n 128 -r 3 --json $(flag $mode) \
        >"$out/speed-$mode-$round-$i.json"
      NOA_HOME=$out/home-$mode "$noa" -q bench --models "${models[$i]}" --suites gsm8k --limit "$items" \
        --max-tokens 64 --threads "$threads" --no-cache --no-registry --json $(flag $mode) \
        >"$out/bench-$mode-$round-$i.json"
    done
  done
done

# Time to first token through noa serve: both servers up, requests alternated.
for mode in worker inproc; do
  NOA_HOME=$out/home-$mode "$noa" serve --addr 127.0.0.1:0 --threads "$threads" --parallel 1 --ctx 1024 $(flag $mode) \
    2>"$out/serve-$mode.log" &
done
for mode in worker inproc; do
  for _ in $(seq 1 300); do grep -q "listening on" "$out/serve-$mode.log" && break; sleep 0.1; done
done
addr() { grep -o "listening on http://[^ ]*" "$out/serve-$1.log" | sed 's|listening on http://||'; }

"$py" - "$out" "$rounds" "$requests" "$(addr worker)" "$(addr inproc)" "${models[@]}" <<'PY'
import http.client, json, statistics, sys, time
out, rounds, n, worker, inproc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
models = sys.argv[6:]

def load(path):
    with open(path) as f:
        return json.load(f)

print("speed: noa speed, worker / in-process (tokens/s; pp512, tg128, 3 repetitions per round)")
for i, m in enumerate(models):
    for test in ("pp", "tg"):
        w = [load(f"{out}/speed-worker-{r}-{i}.json")[f"{test}_tps_mean"] for r in range(1, rounds + 1)]
        p = [load(f"{out}/speed-inproc-{r}-{i}.json")[f"{test}_tps_mean"] for r in range(1, rounds + 1)]
        per = " ".join(f"{a / b:.3f}" for a, b in zip(w, p))
        print(f"  {m:<24} {test}  worker {statistics.mean(w):8.1f}  in-process {statistics.mean(p):8.1f}  ratio {statistics.mean(w) / statistics.mean(p):.3f}  (rounds: {per})")

print("bench: noa bench GSM8K items/s (load included), worker / in-process")
for i, m in enumerate(models):
    def rate(mode):
        v = [load(f"{out}/bench-{mode}-{r}-{i}.json") for r in range(1, rounds + 1)]
        return [d["items_ran"] / d["wall_s"] for d in v]
    w, p = rate("worker"), rate("inproc")
    per = " ".join(f"{a / b:.3f}" for a, b in zip(w, p))
    print(f"  {m:<24} worker {statistics.mean(w):6.3f}  in-process {statistics.mean(p):6.3f}  ratio {statistics.mean(w) / statistics.mean(p):.3f}  (rounds: {per})")

def ttft(addr, model):
    host, port = addr.rsplit(":", 1)
    body = json.dumps({"model": model, "stream": True, "max_tokens": 4,
                       "messages": [{"role": "user", "content": "Name a colour."}]})
    c = http.client.HTTPConnection(host, int(port), timeout=120)
    t0 = time.perf_counter()
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    first = None
    for line in r:
        if first is None and line.startswith(b"data: ") and b'"content":"' in line and b'"content":""' not in line:
            first = time.perf_counter() - t0
    c.close()
    return first * 1000.0

print(f"serve: time to first token of a streamed chat completion, {n} requests per mode, alternated")
for m in models:
    ttft(worker, m); ttft(inproc, m)  # load both first
    w, p = [], []
    for _ in range(n):
        w.append(ttft(worker, m)); p.append(ttft(inproc, m))
    mw, mp = statistics.median(w), statistics.median(p)
    print(f"  {m:<24} p50 worker {mw:7.2f} ms  in-process {mp:7.2f} ms  difference {mw - mp:+.2f} ms")
PY
