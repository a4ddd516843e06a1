#!/usr/bin/env bash
# Everything issue 7 and the gpu_stump check need from a machine with a CUDA GPU, in one command
# (this workplace's `device` tool runs it from the repository root; any CUDA machine with torch,
# torchvision and dlenergy's dependencies will do):
#   1. benchmarks/gpu/record.sh: short real torchvision trainings recorded with `dlenergy measure`,
#      validated, ingested, integrated energy against the board's energy counter;
#   2. the tests that need a GPU or a framework: gpu_stump vs CPU, the real Lightning callback,
#      measure end to end;
#   3. OUT/ds.tgz (the recorded dataset and its ingest), OUT/*.log.
# Then, where Snakemake is:  tar xzf ds.tgz && snakemake --cores 8 --config source=local data_dir=ds
#
#   OUT=/path/to/out benchmarks/gpu/device_run.sh
#
# Python packages missing on the machine can be put as wheels in .whl/ (e.g. stumpy); PYTHON
# (default python3) and record.sh's variables (EPOCHS, PERIOD, DEVICE, ...) pass through.
set -uo pipefail
OUT=${OUT:?set OUT to the folder for the results}
PY=${PYTHON:-python3}
export PYTHON=$PY PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/dlenergy-site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/dlenergy-site"
fi
mkdir -p "$OUT"
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv || true; } 2>&1 | tee "$OUT/gpu.log"
"$PY" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$OUT/gpu.log"
DS=$(mktemp -d)/ds
status=0
benchmarks/gpu/record.sh "$DS" 2>&1 | tee "$OUT/record.log" || status=1
"$PY" -m pytest -q -p no:cacheprovider -o addopts="-ra" \
  "tests/test_fluss.py::test_gpu_stump_gives_the_same_stabilizing_epochs_as_cpu" \
  tests/test_markers.py tests/test_measure.py tests/test_recording.py 2>&1 | tee "$OUT/pytest.log" || status=1
[ -d "$DS" ] && tar czf "$OUT/ds.tgz" -C "$(dirname "$DS")" ds ds-ingested
exit $status
