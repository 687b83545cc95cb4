#!/usr/bin/env bash
# The GPU measurements of the project in one budgeted run on a bare GPU machine without internet:
# what issue 9 asks to measure that no CPU can, most wanted first, each step capped so a slow one
# cannot starve the rest. Every step writes its JSON and log as it goes (a killed step keeps the cases
# it finished); OUT gets three files, refreshed after each step: steps.txt (one line a step),
# session.tar.gz (every step's log and JSON, gpu.txt, the training jobs' logs) and, at the end,
# gpu.json (the steps' JSONs merged, for the forecast). Three, not a dozen: a lent machine returns 8.
#
#   bash tests/benchmarks/gpu_wheels.sh                       # here: .whl (git-ignored)
#   OUT=/some/dir BUDGET_S=540 bash tests/benchmarks/gpu_session.sh    # there, .whl carried along
#   STEPS=md_device_tests,md ...                                   # only these steps
#
# PYTHON: .venv's where install.sh made one (a cluster's GPU node that shares the login node's disk),
# else python3 with torch (CUDA), lightning and e3nn (such images have them) and .whl installed into a
# private folder first. Model: CONFIG (default config/paper.yaml), on 200-atom cells as the README rows.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:?set OUT, the folder the results go to}
BUDGET_S=${BUDGET_S:-540}
STEPS=${STEPS:-}   # the steps to run, comma-separated names (default: all)
CONFIG=${CONFIG:-config/paper.yaml}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/synpretrain-site}
WORK=${WORK:-/tmp/synpretrain-bench}   # shared by the steps: data made and prepared once
# the sizes of the docs/cost.md's H200 rows (BENCH_ARGS=--tiny: a quick check of this script on a CPU)
BENCH_ARGS=${BENCH_ARGS:---workers 4 --train 500 --val 50 --epochs 3 --md-steps 300}
PYTHON=${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
STAGE=$WORK/session    # the steps' logs and JSONs, packed into OUT/session.tar.gz after each step
start=$SECONDS
rm -rf "$STAGE"
mkdir -p "$OUT" "$WORK" "$STAGE"

if [ "$PYTHON" = python3 ] && [ -d "$WHEELS" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "$WHEELS"/*.whl || exit 1
  export PYTHONPATH="$SITE:$(echo "$WHEELS"/src/openequivariance-* | tr ' ' ':')${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/workflow${PYTHONPATH:+:$PYTHONPATH}"   # the training jobs run `python -m synpretrain...`
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$STAGE/gpu.txt" 2>&1
"$PYTHON" -c 'import torch, lightning, nequip; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
"lightning", lightning.__version__, "nequip", nequip.__version__)' | tee -a "$STAGE/gpu.txt"

pack() {  # OUT/session.tar.gz: STAGE and the training jobs' logs, replaced whole (a kill while packing keeps the last)
  (cd "$WORK" && find . -path ./session -prune -o -name '*.log' -print0 |
    tar -czf session.tar.gz session --null -T -) && mv "$WORK/session.tar.gz" "$OUT/session.tar.gz"
}
capped() {  # NAME CAP_S COMMAND...: COMMAND with its output in STAGE/NAME.log, capped by CAP_S and by the budget left
  local name=$1 cap=$2 left=$((BUDGET_S - (SECONDS - start) - 15)) t0=$SECONDS
  shift 2
  [[ -z "$STEPS" || ",$STEPS," == *",$name,"* ]] || return 0
  [ "$left" -lt 30 ] && { echo "== $name: skipped, ${left}s of the budget left" | tee -a "$OUT/steps.txt"; return; }
  [ "$cap" -gt "$left" ] && cap=$left
  timeout -k 10 "$cap" "$@" >"$STAGE/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc in $((SECONDS - t0)) s (cap $cap s): $(tail -1 "$STAGE/$name.log")" | tee -a "$OUT/steps.txt"
  pack
}
jsons=()
bench() {  # NAME CAP_S BENCH-ARGS...: one bench run into STAGE/NAME.json
  local name=$1 cap=$2
  shift 2
  jsons+=("$STAGE/$name.json")
  # shellcheck disable=SC2086
  capped "$name" "$cap" "$PYTHON" tests/benchmarks/bench_training.py --config "$CONFIG" $BENCH_ARGS --work "$WORK" \
    --out "$STAGE/$name.json" "$@"
}

# 0. The device MD engine's tests on the GPU: forces, CUDA graph replay = eager steps, the compiled
#    model = the model, thermostat, a killed run's resume (to the bit on a CPU; on CUDA within float32
#    atomics' run-to-run noise), with CUDA graphs (on a CPU they run without). pytest: the image's, in
#    one process (pyproject.toml's addopts ask for pytest-xdist's workers). On an H200: 16 passed in 33 s
#    before the compiled model's tests; with them 120 s were not enough (compiling on CPU and GPU).
capped md_device_tests 180 "$PYTHON" -m pytest -q -p no:cacheprovider -o addopts="" tests/test_md_device.py
# 1. The small job's fixed cost with OpenEquivariance (the default where installed), forked from the
#    warm server: the server's first job, then the measured one (on a fresh H200: data 35 s, the first
#    job 30 s plus OpenEquivariance's JIT build). Cold (`--only small` runs both): 48 s fixed on a fresh
#    H200 with that build, 30 s without (resources/benchmarks/h200.json).
bench small_warm 180 --only small-warm --kernels openequivariance
# 2. MD of its model (of a small e3nn job's, should step 1 have made none): the device engine with the
#    model compiled (md.compile auto on a GPU), not compiled, and compiled with e3nn's kernels.
md_cases=md   # (small_warm's "first" job leaves a model)
compgen -G "$WORK/*/model.nequip.zip" >/dev/null || md_cases=small,md
bench md 240 --only "$md_cases" --kernels e3nn --md-steps 1000 --md-engines torch,torch+nocompile,torch+e3nn
# 3. Compiled training (compile once per architecture, synpretrain.compile_cache), as time allows.
bench compiled 240 --only compiled --compile --kernels e3nn
# Measured at commit 9fb9588 (resources/benchmarks/h200.json), not repeated here: 1 job, 6 packed and
# 6 under MPS with OpenEquivariance (--only prepared,packed --jobs 6 --mps), MD packs (--md-jobs 1,2).

"$PYTHON" tests/benchmarks/merge_bench.py "${jsons[@]}" --out "$OUT/gpu.json" \
  --note "tests/benchmarks/gpu_session.sh, BUDGET_S=$BUDGET_S, $(tr '\n' ' ' <"$STAGE/gpu.txt")" |
  tee -a "$OUT/steps.txt"
echo "gpu_session.sh: $((SECONDS - start)) s" | tee -a "$OUT/steps.txt"
