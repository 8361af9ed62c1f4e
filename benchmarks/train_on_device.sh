#!/usr/bin/env bash
# Train "dynmri-refine" (configs/dynmri_refine.toml) on a lent GPU within 8 minutes; the checkpoint
# folder and its log go under $OUT. Run it through the device tool from the repository root, with the
# pig archive carried along (the machine reaches nothing outside it):
#   mkdir -p .devdata && cp ../shared/data/pig_cine/pig_cine_cc0.npz .devdata/
#   run(command="bash benchmarks/train_on_device.sh", carry=[".devdata"], timeout_s=600)
# then, here: dynmri train --resume <fetched folder>/dynmri_refine (to go on), or evaluate it with
#   .venv/bin/python benchmarks/refiner.py --network <fetched folder>/dynmri_refine
# The samples' classical starts are computed on the CPU cores; the network trains on the GPU.
# ITERATIONS (default 1200) fits 8 minutes on an H200 with 16 cores; at 470 s a TERM signal makes
# the trainer stop after the current step with an exact, resumable checkpoint.
set -euo pipefail
: "${OUT:?set OUT to the output folder}"
DATA=${DATA:-.devdata/pig_cine_cc0.npz}
export PYTHONPATH=src
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt"
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device"
PY
status=0
timeout -s TERM 470 python -m napari_dynmri.cli train configs/dynmri_refine.toml \
    --device cuda --train-data "$DATA:sax" --iterations "${ITERATIONS:-1200}" --val-every 400 \
    --checkpoint-every 100 --num-threads 8 -o "$OUT/dynmri_refine" --overwrite \
    2>&1 | tee "$OUT/train.log" || status=$?
echo "dynmri train exited with status $status" | tee -a "$OUT/train.log"
