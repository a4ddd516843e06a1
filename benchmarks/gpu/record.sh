#!/usr/bin/env bash
# Record short real torchvision trainings with `dlenergy measure` and the plain epoch marker, then
# check them: layout v1 (`dlenergy validate`) and integrated GPU energy against the board's energy
# counter (`dlenergy ingest`, energy_check.csv).  The pipeline then runs on the dataset as a
# `local` source:  snakemake --cores 8 --config source=local data_dir=DATASET
#
#   benchmarks/gpu/record.sh DATASET [MODEL ...]      (default models: resnet18 mobilenet_v2 efficientnet_b0)
#
# Environment: PYTHON (default python3; needs torch + torchvision and dlenergy importable),
# EPOCHS (22: the cleaning stage keeps runs of >= 20 epochs), BATCH_SIZE (128), IMAGE_SIZE (96),
# TRAIN_SIZE (6144), VAL_SIZE (2048), PERIOD (1 s, as the paper), DEVICE (auto), and
# DLENERGY_GPU_BACKEND (auto; replay:TRACE to try the script without a GPU).
set -euo pipefail
DS=${1:?usage: record.sh DATASET [MODEL ...]}
shift
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(resnet18 mobilenet_v2 efficientnet_b0)
PY=${PYTHON:-python3}
EPOCHS=${EPOCHS:-22} BS=${BATCH_SIZE:-128} IMG=${IMAGE_SIZE:-96} NTR=${TRAIN_SIZE:-6144} NVA=${VAL_SIZE:-2048}
HERE=$(cd "$(dirname "$0")" && pwd)
export COLUMNS=${COLUMNS:-160}  # rich tables in logs: whole run ids
TRAIN="$HERE/train_torchvision.py"
for m in "${MODELS[@]}"; do
  gflops=$("$PY" "$TRAIN" --model "$m" --image-size "$IMG" --print-gflops)
  id="$m-$(date +%Y%m%dT%H%M%S)"
  echo "== $id ($gflops GFLOPs per image)"
  "$PY" -m dlenergy measure --out "$DS" --run-id "$id" --architecture "$m" --dataset synthetic_patterns \
    --batch-size "$BS" --image-size "$IMG" --training-size "$NTR" --validation-size "$NVA" --gflops "$gflops" \
    --period "${PERIOD:-1}" --meta images_seen=$((EPOCHS * (NTR + NVA))) -- \
    "$PY" "$TRAIN" --model "$m" --epochs "$EPOCHS" --batch-size "$BS" --image-size "$IMG" \
    --train-size "$NTR" --val-size "$NVA" --device "${DEVICE:-auto}"
done
"$PY" -m dlenergy validate "$DS"
"$PY" -m dlenergy ingest "$DS" --out "${DS%/}-ingested"
