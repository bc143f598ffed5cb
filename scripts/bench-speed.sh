#!/usr/bin/env bash
# Compares `noa speed` with llama.cpp's own `llama-bench` on the same models, threads
# and machine, in one run, alternating the two so drift on a noisy machine hits both,
# and prints noa/llama-bench ratios for prompt processing (pp) and generation (tg).
#
# llama-bench is not in the trimmed llama.cpp that the Rust binding ships, so it is built
# once from the complete llama.cpp inside the llama-cpp-python source distribution and
# cached under $NOA_LLAMA_BENCH_DIR (default ~/.cache/noa/llama-bench); `--build-only`
# builds it (and llama-batched-bench) and prints its path.
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
rounds=2
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

llama_bench=$bench_dir/$version/build/bin/llama-bench

build_llama_bench() {
  [ -x "$llama_bench" ] && [ -x "$bench_dir/$version/build/bin/llama-batched-bench" ] && return
  mkdir -p "$bench_dir/$version"
  local src=$bench_dir/$version/src
  if [ ! -d "$src" ]; then
    local dl=$bench_dir/$version/sdist
    mkdir -p "$dl"
    ls "$dl"/llama_cpp_python-"$version".tar.gz >/dev/null 2>&1 ||
      "$py" -m pip download -q --no-binary :all: --no-deps -d "$dl" "llama-cpp-python==$version"
    local tmp; tmp=$(mktemp -d "$bench_dir/$version/.src.XXXXXX")
    tar -xzf "$dl"/llama_cpp_python-"$version".tar.gz -C "$tmp"
    mv "$tmp/llama_cpp_python-$version/vendor/llama.cpp" "$src"
    rm -rf "$tmp"
  fi
  echo "building llama-bench from llama-cpp-python $version (once; cached in $bench_dir)" >&2
  cmake -S "$src" -B "$bench_dir/$version/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=OFF >/dev/null
  # llama-batched-bench too: scripts/bench-batching.sh prints llama.cpp's own batching
  # gain beside noa's.
  cmake --build "$bench_dir/$version/build" --target llama-bench llama-batched-bench \
    -j "$(nproc)" >/dev/null
}

build_llama_bench
[ "$build_only" = 1 ] && { echo "$llama_bench"; exit 0; }

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
# Alternate: for each round and model, llama-bench then noa, so both see the same load.
for round in $(seq 1 "$rounds"); do
  for m in "${models[@]}"; do
    echo "round $round: $m (load average $(cut -d" " -f1 /proc/loadavg))" >&2
    "${prio[@]}" "$llama_bench" -m "$models_dir/$m" -t "$threads" -p "$p" -n "$n" -r "$r" -o json \
      >"$out/lb-$round-$m.json" 2>/dev/null
    "${prio[@]}" "$noa" -q speed --model-path "$models_dir/$m" -t "$threads" -p "$p" -n "$n" -r "$r" --json \
      >"$out/noa-$round-$m.json"
  done
done

"$py" - "$out" "$rounds" "$p" "$n" "${models[@]}" <<'EOF'
import json, sys, statistics as st
out, rounds, p, n, models = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
print(f"{'model':<28} {'test':<7} {'llama-bench t/s':>16} {'noa t/s':>16} {'ratio':>6}")
worst = None
for m in models:
    lb = {"pp": [], "tg": []}
    noa = {"pp": [], "tg": []}
    for r in range(1, rounds + 1):
        for row in json.load(open(f"{out}/lb-{r}-{m}.json")):
            if row["n_prompt"] > 0 and row["n_gen"] == 0:
                lb["pp"].append(row["avg_ts"])
            elif row["n_gen"] > 0 and row["n_prompt"] == 0:
                lb["tg"].append(row["avg_ts"])
        for row in (json.loads(l) for l in open(f"{out}/noa-{r}-{m}.json") if l.strip()):
            noa["pp"].append(row["pp_tps_mean"])
            noa["tg"].append(row["tg_tps_mean"])
    for test, size in (("pp", p), ("tg", n)):
        per_round = " ".join(f"{y / x:.3f}" for x, y in zip(lb[test], noa[test]))
        print(f"  {m} {test}{size} per-round ratios: {per_round}", file=sys.stderr)
        a, b = st.mean(lb[test]), st.mean(noa[test])
        ratio = b / a
        worst = ratio if worst is None else min(worst, ratio)
        sa = st.stdev(lb[test]) if len(lb[test]) > 1 else 0.0
        sb = st.stdev(noa[test]) if len(noa[test]) > 1 else 0.0
        print(f"{m:<28} {test}{size:<5} {a:>9.1f} ± {sa:<4.1f} {b:>9.1f} ± {sb:<4.1f} {ratio:>6.3f}")
print(f"worst ratio {worst:.3f} (target >= 0.95)")
EOF
