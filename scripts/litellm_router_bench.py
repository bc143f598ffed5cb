#!/usr/bin/env python3
"""LiteLLM's Router picking among N deployments, timed in a loop: the peer that
`scripts/load-route.sh` compares noa's routing decision with. By default its simplest
strategy (simple-shuffle, no state); with --redis HOST:PORT and
--strategy usage-based-routing-v2, the Router keeps its routing state (per-deployment
usage) in that Redis, read through its in-memory cache the way replicas share it — the
peer of `noa serve --state redis://`. Prints p50/p99 in microseconds and decisions per
second; with --json a JSON line as well. get_available_deployment only picks: no model
server is called."""

import argparse
import json
import os
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
from litellm import Router  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deployments", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=20000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--strategy", default="simple-shuffle")
    ap.add_argument("--redis", help="HOST:PORT of the Redis that holds the Router's state")
    a = ap.parse_args()
    model_list = [
        {
            "model_name": "auto",
            "litellm_params": {
                "model": f"openai/model-{i:02d}",
                "api_base": "http://127.0.0.1:9/v1",
                "api_key": "unused",
            },
        }
        for i in range(a.deployments)
    ]
    kwargs = {}
    if a.redis:
        host, port = a.redis.rsplit(":", 1)
        kwargs = {"redis_host": host, "redis_port": int(port)}
    router = Router(model_list=model_list, routing_strategy=a.strategy, **kwargs)
    messages = [{"role": "user", "content": "write a function that reverses a list"}]
    for _ in range(1000):
        router.get_available_deployment(model="auto", messages=messages)
    times = []
    start = time.perf_counter()
    for _ in range(a.iterations):
        t = time.perf_counter_ns()
        router.get_available_deployment(model="auto", messages=messages)
        times.append(time.perf_counter_ns() - t)
    elapsed = time.perf_counter() - start
    times.sort()
    p50 = times[len(times) // 2] / 1000
    p99 = times[int(len(times) * 0.99)] / 1000
    rate = a.iterations / elapsed
    state = f", state in redis {a.redis}" if a.redis else ""
    print(f"litellm {a.strategy}{state}, {a.deployments} deployments: p50 {p50:.1f} us, p99 {p99:.1f} us, {rate:.0f} decisions/s")
    if a.json:
        print(json.dumps({"p50_us": p50, "p99_us": p99, "rate": rate}))


if __name__ == "__main__":
    main()
