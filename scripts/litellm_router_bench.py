#!/usr/bin/env python3
"""LiteLLM's Router picking among N deployments with its simplest strategy
(simple-shuffle), timed in a loop: the peer that `scripts/load-route.sh` compares noa's
routing decision with. Prints p50/p99 in microseconds and decisions per second; with
--json a JSON line as well. No network is used: get_available_deployment only picks."""

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
    router = Router(model_list=model_list, routing_strategy="simple-shuffle")
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
    print(f"litellm simple-shuffle, {a.deployments} deployments: p50 {p50:.1f} us, p99 {p99:.1f} us, {rate:.0f} decisions/s")
    if a.json:
        print(json.dumps({"p50_us": p50, "p99_us": p99, "rate": rate}))


if __name__ == "__main__":
    main()
