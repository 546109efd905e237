#!/usr/bin/env bash
# The GPU check, in one command, for the day a machine with an NVIDIA GPU is lent:
#
#   tools/gpu-check.sh [--quick]
#
# On a machine with an NVIDIA GPU and CuPy installed (and no package index: nothing is
# downloaded), from the repository root, in under 10 minutes:
#   1. builds the core in place (setup.py build_ext --inplace: needs Cython, NumPy and
#      setuptools installed), and makes autogradx and the CuPy plugin findable with their
#      entry points without installing anything: their metadata (setuptools egg_info) goes
#      to a scratch folder that is put on PYTHONPATH with the checkout;
#   2. runs the CuPy plugin's tests (plugins/cupy/tests);
#   3. runs the conformance suite of the built-in ops on the cuda device
#      (python -m autogradx.conformance numpy --device cuda: values and gradients on
#      the GPU against the CPU, float32 and float64);
#   4. times the large MLP step on cuda against a hand-written CuPy floor, and PyTorch
#      CUDA when importable (benchmarks/bench_gpu.py);
#   5. runs the nccl backend of autogradx.distributed in a world of one process (every
#      collective against NumPy, then DDP steps against one process: the scripts
#      tests/distributed/mpi_collectives.py and mpi_ddp.py with AUTOGRADX_TEST_BACKEND=nccl;
#      NCCL needs CuPy's NCCL library and mpi4py, and the step says which is missing), and
#      tests/distributed's NCCL tests (test_nccl.py on the GPU, one rank per GPU up to two,
#      and through the test double; test_api.py's refusals).
# Output goes to benchmarks/results/gpu/ (override with GPU_CHECK_OUT): a log per step,
# gpu.md and gpu.jsonl (the timing table), and summary.md (each step's outcome, the
# table). Every step runs even when an earlier one fails; the exit status is 1 if any
# failed. Without a GPU, CuPy or pytest it stops at once with exit status 2 and says
# which.
# PYTHON picks the interpreter (default python3). --quick: fewer timing rounds.

set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
PYTHON=${PYTHON:-python3}
OUT=${GPU_CHECK_OUT:-benchmarks/results/gpu}
ROUNDS=5
[ "${1:-}" = "--quick" ] && ROUNDS=3

fail_setup() {
    echo "gpu-check: $*" >&2
    echo "gpu-check: nothing was run (this check needs an NVIDIA GPU, CuPy and pytest)." >&2
    exit 2
}

# --- preconditions: a GPU the driver sees, and CuPy that reaches it -------------------
command -v nvidia-smi >/dev/null 2>&1 \
    || fail_setup "no NVIDIA driver tools: nvidia-smi is not on PATH (no GPU on this machine?)"
GPUS=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1) \
    || fail_setup "nvidia-smi sees no GPU: $GPUS"
[ -n "$GPUS" ] || fail_setup "nvidia-smi lists no GPU"
PROBE='import cupy
print(f"CuPy {cupy.__version__}, {cupy.cuda.runtime.getDeviceCount()} GPU(s)")'
CUPY=$("$PYTHON" -c "$PROBE" 2>&1) \
    || fail_setup "CuPy cannot reach the GPU with $PYTHON: $(echo "$CUPY" | tail -n 1)"
"$PYTHON" -c 'import pytest' 2>/dev/null || fail_setup "pytest is not importable with $PYTHON"

mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
START=$(date +%s)
STATUS=0
{
    echo "# GPU check"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC')," \
        "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
    echo "GPU: $GPUS. $CUPY."
    echo
    echo "| step | outcome | seconds | log |"
    echo "|---|---|---:|---|"
} > "$SUMMARY"

# step NAME LIMIT_SECONDS COMMAND...: run it under a time limit, log it, note the outcome.
step() {
    local name=$1 limit=$2; shift 2
    local log="$OUT/$name.log" t0=$(date +%s) rc outcome
    echo "gpu-check: $name ..." >&2
    timeout "$limit" "$@" >"$log" 2>&1
    rc=$?
    case $rc in
        0) outcome="passed" ;;
        124) outcome="**timed out** after ${limit} s"; STATUS=1 ;;
        *) outcome="**failed** (exit status $rc)"; STATUS=1 ;;
    esac
    echo "| $name | $outcome | $(( $(date +%s) - t0 )) | $log |" >> "$SUMMARY"
    echo "gpu-check: $name: $outcome" >&2
    [ $rc -eq 0 ] || tail -n 20 "$log" >&2
    return $rc
}

# --- 1. build and register; 2-4. the checks ----------------------------------------------
# The limits add up to 590 s: the whole check stays under 10 minutes. A fresh build
# compiles every extension module, in parallel (-j: one per core). (pip install -e would
# compile them all again, one by one, in a build folder of its own.)
PY=$PYTHON
META=$(mktemp -d)
metadata() {
    "$PY" setup.py -q egg_info --egg-base "$META" \
    && (cd plugins/cupy && "$PY" -c 'from setuptools import setup; setup()' -q egg_info \
        --egg-base "$META")
}
export -f metadata
export PY META
export PYTHONPATH="$META:$PWD:$PWD/plugins/cupy${PYTHONPATH:+:$PYTHONPATH}"
if step build-core 170 "$PY" setup.py build_ext --inplace -q -j "$(nproc 2>/dev/null || echo 4)" \
    && step register 25 bash -c metadata; then
    step cupy-plugin-tests 75 "$PY" -m pytest plugins/cupy/tests -q -p no:cacheprovider
    step conformance-cuda 150 "$PY" -m autogradx.conformance numpy --device cuda
    step mlp-timing 50 "$PY" benchmarks/bench_gpu.py --rounds "$ROUNDS" --out-dir "$OUT"
    step nccl-world-of-1 45 env AUTOGRADX_TEST_BACKEND=nccl bash -c \
        '"$PY" tests/distributed/mpi_collectives.py && "$PY" tests/distributed/mpi_ddp.py'
    step nccl-tests 75 "$PY" -m pytest tests/distributed/test_nccl.py \
        tests/distributed/test_api.py -q -rs -p no:cacheprovider
fi

{
    echo
    echo "Total: $(( $(date +%s) - START )) s."
    if [ -f "$OUT/gpu.md" ]; then
        echo
        sed 's/^#/##/' "$OUT/gpu.md"
    fi
} >> "$SUMMARY"
cat "$SUMMARY"
exit $STATUS
