#!/usr/bin/env bash
# GPU check (issue 13): on one CUDA GPU, in under 8 minutes,
#   1. the CUDA tests (pytest -m cuda),
#   2. trainer vs bare-network throughput, same batch (benchmarks/speed.py --device cuda),
#   3. one paper-sized epoch (50 × 10,240 triplets) of AP+AC on projects/hangul-2350, and its
#      accuracy on the held-out test faces.
# Each step has its own time limit and its own log; a failing step is recorded and the next one
# runs. A summary lands in $OUT/gpu_check.json.
#
# Usage (repository root):  bash benchmarks/gpu_check.sh [OUT_DIR]
# Needs: a python with CUDA torch, numpy, h5py, pillow, pytest (onnx + onnxruntime for the
# export test) — PYTHON=... picks it (default: .venv/bin/python if it sees CUDA, else python3);
# and the rendered data of projects/hangul-2350 (render it first where the fonts are:
# `siam render --project projects/hangul-2350`; on a machine without the fonts, copy
# projects/hangul-2350/data/ over). Nothing is downloaded.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-${OUT:-benchmarks/out/gpu}}
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if [[ -z "${PYTHON:-}" ]]; then
  PYTHON=python3
  if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import torch,sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null; then
    PYTHON=.venv/bin/python
  fi
fi
T0=$(date +%s)
declare -A STATUS SECONDS_TAKEN

step() {  # step NAME LIMIT_S COMMAND...
  local name=$1 limit=$2; shift 2
  local s=$(date +%s)
  echo "== $name (limit ${limit}s) =="
  timeout --signal=INT --kill-after=15 "$limit" "$@" > "$OUT_DIR/$name.log" 2>&1
  local rc=$?
  STATUS[$name]=$rc
  SECONDS_TAKEN[$name]=$(( $(date +%s) - s ))
  tail -n 15 "$OUT_DIR/$name.log"
  echo "== $name: exit $rc after ${SECONDS_TAKEN[$name]}s =="
}

step device 60 bash -c "nvidia-smi -L; $PYTHON -c 'import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'"

# 1. CUDA tests. Only tests/core: the GUI tests need PySide6, which a GPU box may not have.
step cuda_tests 150 "$PYTHON" -m pytest -q -m cuda -p no:cacheprovider \
  --continue-on-collection-errors tests/core

# 2. Trainer vs bare network at the paper's batch, on the GPU.
step speed 120 "$PYTHON" benchmarks/speed.py --device cuda --only trainer --modes triplets \
  --triplets 10240 --quick --out "$OUT_DIR/speed.json"

# 3. One paper-sized epoch of AP+AC (the project's default miners), then test accuracy.
DATA=projects/hangul-2350/data
RUN="$OUT_DIR/run-apac"
rm -rf "$RUN"
if [[ -f $DATA/train.h5 && -f $DATA/test.h5 ]]; then
  step epoch 180 "$PYTHON" -m siam_workbench.cli train projects/hangul-2350 --epochs 1 --iterations 50 \
    --triplets 10240 --device cuda --no-render --run-dir "$RUN" --json
  step eval 60 "$PYTHON" -m siam_workbench.cli eval "$RUN" --data $DATA/test.h5 --checkpoint last \
    --device cuda --json
else
  echo "no rendered data in $DATA: render it first (see the header)" | tee "$OUT_DIR/epoch.log"
  STATUS[epoch]=missing-data; STATUS[eval]=missing-data
fi

"$PYTHON" - "$OUT_DIR" "$(( $(date +%s) - T0 ))" <<EOF
import json, sys
from pathlib import Path
out, total = Path(sys.argv[1]), int(sys.argv[2])
status = {$(for k in "${!STATUS[@]}"; do printf '"%s": "%s", ' "$k" "${STATUS[$k]}"; done)}
seconds = {$(for k in "${!SECONDS_TAKEN[@]}"; do printf '"%s": %s, ' "$k" "${SECONDS_TAKEN[$k]}"; done)}
def last_json(name):
    p = out / f"{name}.log"
    if not p.exists():
        return None
    for line in reversed(p.read_text(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None
summary = {"total_s": total, "exit": status, "seconds": seconds,
           "device": (out / "device.log").read_text(errors="replace").strip()
           if (out / "device.log").exists() else None,
           "cuda_tests": (out / "cuda_tests.log").read_text(errors="replace").strip()
           .splitlines()[-1:] if (out / "cuda_tests.log").exists() else None,
           "speed": json.loads((out / "speed.json").read_text()).get("trainer")
           if (out / "speed.json").exists() else None,
           "epoch": last_json("epoch"), "eval": last_json("eval")}
metrics = out / "run-apac" / "metrics.jsonl"
if metrics.exists():
    ev = [json.loads(l) for l in metrics.read_text().splitlines() if l.strip()]
    rates = [e["triplets_per_s"] for e in ev if e.get("event") == "iteration"]
    ends = [e for e in ev if e.get("event") == "epoch"]
    summary["epoch_detail"] = {"iterations": len(rates),
                               "median_triplets_per_s": sorted(rates)[len(rates) // 2]
                               if rates else None,
                               "epoch_seconds": ends[-1].get("seconds") if ends else None}
(out / "gpu_check.json").write_text(json.dumps(summary, indent=1) + "\n")
print(json.dumps(summary, indent=1))
EOF
echo "total $(( $(date +%s) - T0 ))s; logs and gpu_check.json in $OUT_DIR"
