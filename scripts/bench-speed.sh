#!/usr/bin/env bash
# Compares `noa speed` with llama.cpp's own `llama-bench` on the same models, threads
# and machine, in one run, alternating them so drift on a noisy machine hits all, and
# prints noa/llama-bench ratios for prompt processing (pp) and generation (tg).
#
# llama-bench is not in the trimmed llama.cpp that the Rust binding ships, so it is built
# (once, cached under $NOA_LLAMA_BENCH_DIR, default ~/.cache/noa/llama-bench) in two
# ways, and noa is compared with both in the same run:
#   crate: the very llama.cpp noa links (the llama-cpp-sys-2 crate's sources, found
#          with `cargo metadata`), with the llama-bench and llama-batched-bench tool
#          sources taken from the llama-cpp-python source distribution. Same ggml, same
#          kernels: the ratio is noa's own overhead.
#   sdist: the complete llama.cpp inside the llama-cpp-python source distribution (an
#          older ggml than the crate's): the ratio also carries the version difference.
# `--build-only` builds both and prints the crate build's bin folder (where
# scripts/bench-batching.sh finds llama-batched-bench).
#
# On a machine shared with other work the measured processes run at raised priority
# (NOA_BENCH_NICE, default -10, when allowed), and every round's ratio is printed so
# drift is visible; the summary ratio is of the means over all rounds.
#
# usage: scripts/bench-speed.sh [--build-only] [--rounds N]
# env:   NOA_TEST_MODELS_DIR (models), NOA_SPEED_THREADS (2), NOA_SPEED_P (512),
#        NOA_SPEED_N (128), NOA_SPEED_R (5), NOA_LLAMA_CPP_PYTHON_VERSION (0.3.36),
#        NOA_BENCH_NICE (-10)
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --build-only) build_only=1 ;;
    --rounds) rounds=$2; shift ;;
    *) echo "error: unknown argument \`$1\`" >&2; exit 2 ;;
  esac
  shift
done

py=${NOA_PYTHON:-python3}
version=${NOA_LLAMA_CPP_PYTHON_VERSION:-0.3.36}
bench_dir=${NOA_LLAMA_BENCH_DIR:-$HOME/.cache/noa/llama-bench}
models_dir=${NOA_TEST_MODELS_DIR:-$HOME/.cache/noa/test-models}
threads=${NOA_SPEED_THREADS:-2}
p=${NOA_SPEED_P:-512}
n=${NOA_SPEED_N:-128}
r=${NOA_SPEED_R:-5}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/noa/target}

# The crate's llama.cpp: the llama-cpp-sys-2 that Cargo.lock pins, from cargo's cache.
sys=$(cargo metadata --format-version 1 --locked 2>/dev/null | "$py" -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "llama-cpp-sys-2":
        print(p["version"], os.path.join(os.path.dirname(p["manifest_path"]), "llama.cpp"))
')
sys_version=${sys%% *}
sys_src=${sys#* }
[ -d "$sys_src/ggml" ] || { echo "error: llama-cpp-sys-2's llama.cpp not found; run cargo fetch" >&2; exit 1; }
sdist_dir=$bench_dir/$version
crate_dir=$bench_dir/crate-$sys_version

unpack_sdist() {
  [ -d "$sdist_dir/src" ] && return
  local dl=$sdist_dir/sdist
  mkdir -p "$dl"
  ls "$dl"/llama_cpp_python-"$version".tar.gz >/dev/null 2>&1 ||
    "$py" -m pip download -q --no-binary :all: --no-deps -d "$dl" "llama-cpp-python==$version"
  local tmp; tmp=$(mktemp -d "$sdist_dir/.src.XXXXXX")
  tar -xzf "$dl"/llama_cpp_python-"$version".tar.gz -C "$tmp"
  mv "$tmp/llama_cpp_python-$version/vendor/llama.cpp" "$sdist_dir/src"
  rm -rf "$tmp"
}

# The crate's llama.cpp tree, with only the two benchmark tools under tools/.
assemble_crate_src() {
  [ -d "$crate_dir/src" ] && return
  mkdir -p "$crate_dir"
  local tmp; tmp=$(mktemp -d "$crate_dir/.src.XXXXXX")
  cp -r "$sys_src" "$tmp/llama.cpp"
  rm -rf "$tmp/llama.cpp/tools"
  mkdir -p "$tmp/llama.cpp/tools"
  cp -r "$sdist_dir/src/tools/llama-bench" "$sdist_dir/src/tools/batched-bench" "$tmp/llama.cpp/tools/"
  printf 'add_subdirectory(llama-bench)\nadd_subdirectory(batched-bench)\n' \
    >"$tmp/llama.cpp/tools/CMakeLists.txt"
  mv "$tmp/llama.cpp" "$crate_dir/src"
  rm -rf "$tmp"
}

# build_tools <dir>: llama-bench and llama-batched-bench from <dir>/src into <dir>/build,
# for this CPU as noa's own build is (GGML_NATIVE, and on x86-64 without AMX kernels,
# the flags of .cargo/config.toml).
build_tools() {
  local dir=$1
  [ -x "$dir/build/bin/llama-bench" ] && [ -x "$dir/build/bin/llama-batched-bench" ] &&
    [ -f "$dir/build/.noamx" ] && return
  echo "building llama-bench and llama-batched-bench from $dir/src (once)" >&2
  local flags=""
  [ "$(uname -m)" = x86_64 ] && flags="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  rm -rf "$dir/build"
  cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=ON \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_CXX_FLAGS="$flags" \
    -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$dir/build" --target llama-bench llama-batched-bench -j "$(nproc)" >/dev/null
  touch "$dir/build/.noamx"
}

unpack_sdist
assemble_crate_src
build_tools "$crate_dir"
build_tools "$sdist_dir"
[ "$build_only" = 1 ] && { echo "$crate_dir/build/bin"; exit 0; }
peers=(crate sdist)
declare -A peer_bin=([crate]=$crate_dir/build/bin/llama-bench [sdist]=$sdist_dir/build/bin/llama-bench)

cargo build --release -q --bin noa
noa=$CARGO_TARGET_DIR/release/noa

models=(smollm2-135m-instruct.gguf gemma-3-270m.gguf)
for m in "${models[@]}"; do
  [ -f "$models_dir/$m" ] || { echo "error: \`$models_dir/$m\` is missing" >&2
    echo "hint: run scripts/test-models.sh" >&2; exit 1; }
done

prio=()
nice_level=${NOA_BENCH_NICE:--10}
if nice -n "$nice_level" true 2>/dev/null; then prio=(nice -n "$nice_level"); fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Alternate: for each round and model, both llama-benches then noa, so all see the same
# load.
for round in $(seq 1 "$rounds"); do
  for m in "${models[@]}"; do
    echo "round $round: $m (load average $(cut -d" " -f1 /proc/loadavg))" >&2
    for peer in "${peers[@]}"; do
      "${prio[@]}" "${peer_bin[$peer]}" -m "$models_dir/$m" -t "$threads" -p "$p" -n "$n" -r "$r" \
        -o json >"$out/$peer-$round-$m.json" 2>/dev/null
    done
    "${prio[@]}" "$noa" -q speed --model-path "$models_dir/$m" -t "$threads" -p "$p" -n "$n" -r "$r" --json \
      >"$out/noa-$round-$m.json"
  done
done

"$py" - "$out" "$rounds" "$p" "$n" "$sys_version" "$version" "${models[@]}" <<'PY'
import json, sys, statistics as st
out, rounds, p, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
sys_version, sdist_version, models = sys.argv[5], sys.argv[6], sys.argv[7:]
peers = {"crate": f"llama-bench on the crate's llama.cpp (llama-cpp-sys-2 {sys_version})",
         "sdist": f"llama-bench on llama-cpp-python {sdist_version}'s llama.cpp"}
def sd(xs):
    return st.stdev(xs) if len(xs) > 1 else 0.0
def series(path_of, pick):
    rows = {"pp": [], "tg": []}
    for r in range(1, rounds + 1):
        for test, value in pick(path_of(r)):
            rows[test].append(value)
    return rows
def from_llama_bench(path):
    for row in json.load(open(path)):
        if row["n_prompt"] > 0 and row["n_gen"] == 0:
            yield "pp", row["avg_ts"]
        elif row["n_gen"] > 0 and row["n_prompt"] == 0:
            yield "tg", row["avg_ts"]
def from_noa(path):
    for row in (json.loads(l) for l in open(path) if l.strip()):
        yield "pp", row["pp_tps_mean"]
        yield "tg", row["tg_tps_mean"]
worst = {}
for peer, title in peers.items():
    print(f"noa vs {title}")
    print(f"  {'model':<28} {'test':<7} {'llama-bench t/s':>16} {'noa t/s':>16} {'ratio':>6}")
    for m in models:
        theirs = series(lambda r: f"{out}/{peer}-{r}-{m}.json", from_llama_bench)
        ours = series(lambda r: f"{out}/noa-{r}-{m}.json", from_noa)
        for test, size in (("pp", p), ("tg", n)):
            per_round = " ".join(f"{y / x:.3f}" for x, y in zip(theirs[test], ours[test]))
            print(f"  {m} {test}{size} per-round ratios vs {peer}: {per_round}", file=sys.stderr)
            a, b = st.mean(theirs[test]), st.mean(ours[test])
            ratio = b / a
            worst[peer] = min(worst.get(peer, ratio), ratio)
            print(f"  {m:<28} {test}{size:<5} {a:>9.1f} ± {sd(theirs[test]):<4.1f} "
                  f"{b:>9.1f} ± {sd(ours[test]):<4.1f} {ratio:>6.3f}")
print("worst ratio " + ", ".join(f"{v:.3f} vs {k}" for k, v in worst.items()) + " (target >= 0.95)")
PY
