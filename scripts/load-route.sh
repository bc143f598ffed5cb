#!/usr/bin/env bash
# Router benchmarks in one run, peers included:
#  1. in-process decision latency with 20 candidates per policy (p50/p99, hdrhistogram);
#  2. the real `noa serve` on loopback with 20 measured models: idle resident memory
#     (VmRSS), then a bounded load on POST /v1/route (fixed request count and duration):
#     throughput and p99;
#  3. LiteLLM's Router (simple-shuffle, 20 deployments, get_available_deployment) timed
#     in a loop on the same machine, and the ratios.
# Targets: decision p99 <= 10 us; >= 20 000 req/s with p99 <= 2 ms; RSS <= 30 MB.
# Env: REQUESTS (200000), DURATION (10 s), CONNECTIONS (4), LITELLM_ITERATIONS (20000),
#      SKIP_LITELLM=1 to skip the peer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/noa/target}
requests=${REQUESTS:-200000}
duration=${DURATION:-10}
connections=${CONNECTIONS:-4}
cd "$root"
cargo build --release --quiet --bin noa
cargo build --release --quiet -p noa-router --examples
bin=$CARGO_TARGET_DIR/release/noa
ex=$CARGO_TARGET_DIR/release/examples

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== in-process decision latency (20 candidates)"
"$ex/select_p99" 200000 | tee "$work/select.txt"

echo "== noa serve on loopback (20 measured models)"
"$ex/registry_json" 20 > "$work/models.json"
NOA_HOME=$work "$bin" serve --addr 127.0.0.1:0 --memory-budget 64G 2> "$work/serve.log" &
pid=$!
addr=
for _ in $(seq 1 100); do
  addr=$(sed -n 's#.*listening on http://\([^ ]*\).*#\1#p' "$work/serve.log" | head -n1)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "noa serve did not start:"; cat "$work/serve.log"; exit 2; }
sleep 0.5
rss_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "resident memory, idle, no model loaded: $((rss_idle_kb / 1024)) MiB ($rss_idle_kb kB; target <= 30 MB)"
"$ex/load_route" "$addr" --connections "$connections" --requests "$requests" --duration-s "$duration" --json | tee "$work/load.txt"
rss_after_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "resident memory after the load: $((rss_after_kb / 1024)) MiB"
kill -TERM "$pid"; wait "$pid" || true; pid=

if [ "${SKIP_LITELLM:-0}" = 1 ]; then exit 0; fi
echo "== LiteLLM Router (simple-shuffle, 20 deployments)"
venv=$HOME/.cache/noa/venv-litellm
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
if ! "$venv/bin/python" -c 'import litellm' 2>/dev/null; then
  "$venv/bin/python" -m pip install --quiet litellm
fi
"$venv/bin/python" scripts/litellm_router_bench.py --deployments 20 --iterations "${LITELLM_ITERATIONS:-20000}" --json | tee "$work/litellm.txt"

python3 - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
sel = open(f"{w}/select.txt").read()
m = re.search(r"^thompson\s+(\d+)\s+(\d+)", sel, re.M)
noa_p50, noa_p99 = int(m.group(1)) / 1000, int(m.group(2)) / 1000
load = json.loads(open(f"{w}/load.txt").read().strip().splitlines()[-1])
lite = json.loads(open(f"{w}/litellm.txt").read().strip().splitlines()[-1])
print("== ratios (LiteLLM / noa; > 1 means noa is faster)")
print(f"decision p50: noa thompson {noa_p50:.2f} us vs litellm {lite['p50_us']:.1f} us -> {lite['p50_us'] / noa_p50:.0f}x")
print(f"decision p99: noa thompson {noa_p99:.2f} us vs litellm {lite['p99_us']:.1f} us -> {lite['p99_us'] / noa_p99:.0f}x")
print(f"noa over HTTP {load['rps']:.0f} req/s (p99 {load['p99_us']} us) vs litellm in-process {lite['rate']:.0f} decisions/s -> {load['rps'] / lite['rate']:.1f}x")
PY
