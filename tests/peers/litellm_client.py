#!/usr/bin/env python3
"""LiteLLM as an agent's client of `noa serve`: `noa serve` configured as an
OpenAI-compatible provider (`openai/<model>` with `api_base`), the way a LiteLLM user
would point at it. Reads {"base": URL, "calls": [...]} on stdin, makes each call through
`litellm.completion` (streamed or not) and prints one JSON object per call on stdout:
what LiteLLM handed back (text, finish reason, usage, the `x-noa-*` response headers it
exposes), or the exception it raised for an error answer. Used by
tests/litellm_interop.rs; no network beyond the loopback address given."""

import json
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
import litellm  # noqa: E402

litellm.suppress_debug_info = True


def noa_headers(hidden):
    """The x-noa-* headers of the response, as LiteLLM passes them on."""
    headers = (hidden or {}).get("additional_headers") or {}
    out = {}
    for k, v in headers.items():
        name = k.lower().removeprefix("llm_provider-")
        if name.startswith("x-noa-"):
            out[name] = v
    return out


def call(base, c):
    params = dict(
        model="openai/" + c["model"],
        api_base=base,
        api_key="unused",
        messages=c["messages"],
        max_tokens=c["max_tokens"],
        temperature=c["temperature"],
        seed=c["seed"],
        num_retries=0,
    )
    if c.get("extra_body"):
        params["extra_body"] = c["extra_body"]
    if c.get("extra_headers"):
        params["extra_headers"] = c["extra_headers"]
    try:
        if not c.get("stream"):
            r = litellm.completion(**params)
            return {
                "text": r.choices[0].message.content,
                "finish_reason": r.choices[0].finish_reason,
                "usage": {
                    "prompt_tokens": r.usage.prompt_tokens,
                    "completion_tokens": r.usage.completion_tokens,
                },
                "headers": noa_headers(getattr(r, "_hidden_params", None)),
            }
        text, finish, chunks, headers = "", None, 0, {}
        for chunk in litellm.completion(stream=True, **params):
            chunks += 1
            choice = chunk.choices[0]
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
            headers = headers or noa_headers(getattr(chunk, "_hidden_params", None))
        return {"text": text, "finish_reason": finish, "chunks": chunks, "headers": headers}
    except Exception as e:  # the test wants to see exactly what LiteLLM raised
        return {
            "error": {
                "class": type(e).__name__,
                "status": getattr(e, "status_code", None),
                "message": str(e),
            }
        }


def main():
    req = json.load(sys.stdin)
    for c in req["calls"]:
        print(json.dumps(call(req["base"], c)), flush=True)


if __name__ == "__main__":
    main()
