#!/usr/bin/env bash
# The one device check for a session lent a GPU (see docs/speed.rst): the tests marked gpu,
# then the speed benchmark, whose GPU part runs wherever CUDA is present (epoch at batch 128
# and 1024 with the rows on the device, GPU prediction). The scale curve is skipped (CPU only).
#
#   bash benchmarks/gpu_check.sh [DATA_DIR]      # writes to $OUT, else ./gpu_check
#
# Without DATA_DIR (or without MovieLens files in it) synthetic ratings stand in.
set -uo pipefail
out="${OUT:-gpu_check}"
mkdir -p "$out"
data=()
if [ $# -ge 1 ]; then data=(--data-dir "$1"); fi

python - <<'PY' 2>&1 | tee "$out/device.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda)
print("device", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "NO CUDA")
PY
# only the modules that hold gpu tests: the device image has no test extra (hypothesis, dask),
# and one module failing to import would stop pytest before any GPU test ran
mapfile -t gpu_modules < <(grep -rl --include='test_*.py' 'mark.gpu' tests | sort)
python -m pytest -q -p no:cacheprovider -m gpu -rs "${gpu_modules[@]}" 2>&1 | tee "$out/gpu_tests.log"
tests=${PIPESTATUS[0]}
python benchmarks/run.py --speed "${data[@]}" --device cuda --scale-sizes 0 \
    --speed-repeats 3 --out "$out" 2>&1 | tee "$out/speed.log"
speed=${PIPESTATUS[0]}
echo "gpu tests rc=$tests, speed rc=$speed"
exit $(( tests || speed ))
