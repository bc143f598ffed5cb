#!/usr/bin/env bash
# The cost of going through `noa serve` to a remote model: the same chat completion
# sent straight to an OpenAI-compatible server and sent to `noa serve` (pinned to the
# remote model, and `auto`, which asks the router first), interleaved request by
# request over kept-alive connections, in one run. The server is a stdlib Python
# stand-in that answers at once, so what is left is the proxy's own time (HTTP parse,
# routing, forwarding over its pooled connection, relaying the answer). Prints p50 and
# p99 of each path and the overhead at p50 (target <= 1 ms).
#
#   scripts/bench-proxy.sh [requests]      (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000}"
target="${CARGO_TARGET_DIR:-target}"
cargo build --release -q --bin noa
noa="$target/release/noa"
work="$(mktemp -d)"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 - "$work/upstream.port" <<'PY' &
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
BODY = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "blue"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}).encode()
CHUNKS = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "blue"}, "finish_reason": None}]},
          {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}}]
SSE = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in CHUNKS) + b"data: [DONE]\n\n"
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, b, ctype):
        # Head and body in one write: two small writes would meet Nagle's algorithm and
        # the client's delayed ACK (40 ms), which is the stand-in's cost, not noa's.
        head = f"HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {len(b)}\r\n\r\n"
        self.wfile.write(head.encode() + b)
    def do_GET(self):
        self.answer(json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode(), "application/json")
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["content-length"])))
        b, ctype = (SSE, "text/event-stream") if req.get("stream") else (BODY, "application/json")
        self.answer(b, ctype)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
pids+=($!)
for _ in $(seq 50); do [ -s "$work/upstream.port" ] && break; sleep 0.1; done
up="127.0.0.1:$(cat "$work/upstream.port")"

export NOA_HOME="$work/home"
mkdir -p "$NOA_HOME"
"$noa" --quiet models add --endpoint "http://$up/v1" --model fake --id remote --privacy lan \
  --use-case general >/dev/null
"$noa" serve --addr 127.0.0.1:0 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
front="$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$work/serve.log" | head -1)"

python3 - "$up" "$front" "$n" <<'PY'
import http.client, json, statistics, sys, time
up, front, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def conn(addr):
    h, p = addr.rsplit(":", 1)
    return http.client.HTTPConnection(h, int(p))
paths = {"direct": (conn(up), "fake"), "noa pinned": (conn(front), "remote"), "noa auto": (conn(front), "auto")}
msgs = [{"role": "user", "content": "Name a colour."}]
times = {k: [] for k in paths}
for i in range(n + 50):
    for name, (c, model) in paths.items():
        body = json.dumps({"model": model, "messages": msgs, "max_tokens": 1})
        t = time.perf_counter()
        c.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        r = c.getresponse(); data = r.read()
        dt = (time.perf_counter() - t) * 1e6
        assert r.status == 200, (name, r.status, data)
        if i >= 50:
            times[name].append(dt)
q = lambda xs, p: sorted(xs)[int(p * (len(xs) - 1))]
for name, xs in times.items():
    print(f"{name:11s} p50 {statistics.median(xs):7.0f} us   p99 {q(xs, 0.99):7.0f} us")
d = statistics.median(times["direct"])
for name in ("noa pinned", "noa auto"):
    print(f"overhead of {name} at p50: {(statistics.median(times[name]) - d) / 1000:.3f} ms (target <= 1 ms)")
PY
