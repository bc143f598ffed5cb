#!/usr/bin/env bash
# Installs what building and testing noa needs on a fresh Debian machine, and nothing
# that is already there: cmake and libclang (llama.cpp and its bindings), Chromium (the
# report's browser test), redis-server (the tests of router replicas sharing state),
# python3-venv and LiteLLM in its own virtual environment (the peer of the routing
# benchmark and of the interoperability test, pinned in scripts/litellm-requirements.txt).
# Safe to run again; every step checks before it installs.
# Env: NOA_SETUP_BROWSER=0 skips Chromium, NOA_SETUP_LITELLM=0 skips LiteLLM.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip python3-venv)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
# redis-cli comes with it (package redis-tools).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${NOA_SETUP_BROWSER:-1}" = 1 ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

command -v cargo >/dev/null 2>&1 || {
  echo "error: cargo not found; install Rust with rustup first" >&2
  exit 1
}

# LiteLLM, pinned, in a virtual environment of its own (never the system Python's
# packages). Reinstalled only when the pinned versions change.
if [ "${NOA_SETUP_LITELLM:-1}" = 1 ]; then
  venv="$HOME/.cache/noa/venv-litellm"
  req="$(dirname "$0")/litellm-requirements.txt"
  stamp="$venv/.requirements"
  if ! cmp -s "$req" "$stamp" 2>/dev/null || ! "$venv/bin/python" -c 'import litellm' >/dev/null 2>&1; then
    echo "setup: installing LiteLLM into $venv" >&2
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    cp "$req" "$stamp"
  fi
fi
