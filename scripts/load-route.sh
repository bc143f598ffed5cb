#!/usr/bin/env bash
# Router benchmarks in one run, peers included:
#  1. in-process decision latency with 20 candidates per policy (p50/p99, hdrhistogram);
#  2. the real `noa serve` on loopback with 20 measured models: idle resident memory
#     (VmRSS), then a bounded load on POST /v1/route (fixed request count and duration):
#     throughput and p99;
#  2b. the same load with the learned state in Redis (`--state redis://...`, a
#     redis-server started here with `--appendfsync always`), and the ratio to local
#     state (decisions never wait on Redis, so the ratio should be ~1); plus the
#     in-process decision latency of routers whose state is in that Redis;
#  3. LiteLLM's Router (simple-shuffle, 20 deployments, get_available_deployment) timed
#     in a loop on the same machine, and the ratios; with Redis (2b), also LiteLLM's
#     Router keeping its routing state in that Redis (usage-based-routing-v2), the
#     peer of noa's decisions with the state in Redis.
# Targets: decision p99 <= 10 us; >= 20 000 req/s with p99 <= 2 ms; RSS <= 30 MB.
# Env: REQUESTS (200000), DURATION (10 s), CONNECTIONS (4), LITELLM_ITERATIONS (20000),
#      SKIP_LITELLM=1 to skip the peer, SKIP_REDIS=1 to skip 2b.
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
redis_pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then kill -TERM "$redis_pid"; wait "$redis_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== in-process decision latency (20 candidates)"
"$ex/select_p99" 200000 | tee "$work/select.txt"

echo "== noa serve on loopback (20 measured models)"
"$ex/registry_json" 20 > "$work/models.json"
# serve_load NAME [serve args...]: start `noa serve`, load it, write $work/load-NAME.txt.
serve_load() {
  local name=$1; shift
  NOA_HOME=$work "$bin" serve --addr 127.0.0.1:0 --memory-budget 64G "$@" 2> "$work/serve-$name.log" &
  pid=$!
  addr=
  for _ in $(seq 1 100); do
    addr=$(sed -n 's#.*listening on http://\([^ ]*\).*#\1#p' "$work/serve-$name.log" | head -n1)
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "noa serve did not start:"; cat "$work/serve-$name.log"; exit 2; }
  sleep 0.5
  rss_idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo "resident memory, idle, no model loaded: $((rss_idle_kb / 1024)) MiB ($rss_idle_kb kB; target <= 30 MB)"
  "$ex/load_route" "$addr" --connections "$connections" --requests "$requests" --duration-s "$duration" --json | tee "$work/load-$name.txt"
  rss_after_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  echo "resident memory after the load: $((rss_after_kb / 1024)) MiB"
  kill -TERM "$pid"; wait "$pid" || true; pid=
}
serve_load local
cp "$work/load-local.txt" "$work/load.txt"

# LiteLLM, pinned (scripts/litellm-requirements.txt), in the environment setup.sh makes.
litellm_py=
if [ "${SKIP_LITELLM:-0}" != 1 ]; then
  NOA_SETUP_BROWSER=0 scripts/setup.sh
  litellm_py=$HOME/.cache/noa/venv-litellm/bin/python
fi

if [ "${SKIP_REDIS:-0}" != 1 ]; then
  command -v redis-server >/dev/null || { echo "error: redis-server not found; run scripts/setup.sh" >&2; exit 1; }
  redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/redis"
  redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save "" \
    --appendonly yes --appendfsync always > "$work/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  echo "== in-process decision latency, state in Redis (20 candidates)"
  "$ex/select_p99" 50000 "redis://127.0.0.1:$redis_port/1" | tee "$work/select-redis.txt"
  echo "== noa serve on loopback, state in Redis (redis://127.0.0.1:$redis_port)"
  serve_load redis --state "redis://127.0.0.1:$redis_port"
  if [ -n "$litellm_py" ]; then
    echo "== LiteLLM Router, state in the same Redis (usage-based-routing-v2, 20 deployments)"
    "$litellm_py" scripts/litellm_router_bench.py --deployments 20 --iterations "${LITELLM_ITERATIONS:-20000}" \
      --strategy usage-based-routing-v2 --redis "127.0.0.1:$redis_port" --json | tee "$work/litellm-redis.txt"
  fi
  python3 - "$work" <<'PY'
import json, re, sys
w = sys.argv[1]
last = lambda f: json.loads(open(f"{w}/{f}").read().strip().splitlines()[-1])
loc, red = last("load-local.txt"), last("load-redis.txt")
def sel(f):
    m = re.search(r"^thompson\s+(\d+)\s+(\d+)", open(f"{w}/{f}").read(), re.M)
    return int(m.group(1)) / 1000, int(m.group(2)) / 1000
(l50, l99), (r50, r99) = sel("select.txt"), sel("select-redis.txt")
print("== Redis state / local state (same run)")
print(f"decision thompson p50 {r50:.2f} us vs {l50:.2f} us, p99 {r99:.2f} us vs {l99:.2f} us -> p99 ratio {r99 / l99:.2f} (target <= 10 us)")
print(f"POST /v1/route {red['rps']:.0f} vs {loc['rps']:.0f} req/s -> {red['rps'] / loc['rps']:.2f}x; p99 {red['p99_us']} vs {loc['p99_us']} us -> {red['p99_us'] / max(loc['p99_us'], 1):.2f}x (target >= 20 000 req/s, p99 <= 2 ms)")
import os
if os.path.exists(f"{w}/litellm-redis.txt"):
    lr = last("litellm-redis.txt")
    print("== state in Redis: LiteLLM usage-based-routing-v2 / noa thompson (> 1 means noa is faster)")
    print(f"decision p50 {lr['p50_us']:.1f} us vs {r50:.2f} us -> {lr['p50_us'] / r50:.0f}x; p99 {lr['p99_us']:.1f} us vs {r99:.2f} us -> {lr['p99_us'] / r99:.0f}x")
    print(f"noa over HTTP with Redis state {red['rps']:.0f} req/s vs litellm in-process {lr['rate']:.0f} decisions/s -> {red['rps'] / lr['rate']:.1f}x")
PY
  kill -TERM "$redis_pid"; wait "$redis_pid" || true; redis_pid=
fi

if [ -z "$litellm_py" ]; then exit 0; fi
echo "== LiteLLM Router (simple-shuffle, 20 deployments)"
"$litellm_py" scripts/litellm_router_bench.py --deployments 20 --iterations "${LITELLM_ITERATIONS:-20000}" --json | tee "$work/litellm.txt"

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
