#!/usr/bin/env bash
# Speed check on a CUDA GPU, in a few minutes: the GPU's name, the CUDA tests, `ncglf2 bench` (float32 and
# bfloat16), then a scene the size of Houston 2013 (349 x 1905 pixels, 144 HSI bands + 1 LiDAR band) trained
# with the paper's protocol and classified end to end, each timed; one Markdown table at the end.
#
#   make setup && tools/gpu_check.sh
#   GPU_CHECK_DEVICE=cpu tools/gpu_check.sh    # the same steps on the CPU, smaller and shorter (no GPU needed)
#   GPU_CHECK_BENCH=0 tools/gpu_check.sh       # without `ncglf2 bench` (a rerun in less time)
#
# Exits 1 when a step fails (the table still comes), 2 when it cannot start.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
NCGLF2="$ROOT/.venv/bin/ncglf2"
DEVICE="${GPU_CHECK_DEVICE:-cuda}"

if [[ ! -x "$PY" || ! -x "$NCGLF2" ]]; then
  echo "gpu_check: no .venv with ncglf2 in $ROOT; run make setup first" >&2
  exit 2
fi
case "$DEVICE" in
  cuda)
    HEIGHT=349 WIDTH=1905 EPOCHS=20 BENCH=()
    ;;
  cpu)
    HEIGHT=16 WIDTH=64 EPOCHS=3 BENCH=(--quick)
    ;;
  *)
    echo "gpu_check: GPU_CHECK_DEVICE must be cuda or cpu (got $DEVICE)" >&2
    exit 2
    ;;
esac
BANDS=144

TMP_ROOT="${TMPDIR:-/tmp}"
WORK="$(mktemp -d "$TMP_ROOT/ncglf2-gpu-check.XXXXXX")"
DASK_PIDS=()
remove_work() {
  for pid in "${DASK_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  # Only the folder mktemp made for this run.
  case "$WORK" in
    "$TMP_ROOT"/ncglf2-gpu-check.*) rm -rf -- "$WORK" ;;
  esac
}
trap remove_work EXIT
# Ctrl-C or a kill end the script through its EXIT trap: the workers stop and the folder goes.
trap 'exit 130' INT
trap 'exit 143' TERM

status=0
ROWS=()
row() { ROWS+=("| $1 | $2 | ${3:-} |"); }
# "met" or "missed" for a value in seconds against a limit in seconds.
verdict() { "$PY" -c "import sys; print('met' if float(sys.argv[1]) < float(sys.argv[2]) else 'missed')" "$1" "$2"; }
now() { date +%s.%N; }
since() { "$PY" -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$1" "$(now)"; }
section() { printf '\n== %s\n' "$1"; }

section "device"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
fi
gpu="$("$PY" -c "import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none')")"
torch_line="$("$PY" -c "import torch; print(f'torch {torch.__version__}, CUDA {torch.version.cuda}')")"
echo "torch sees: $gpu ($torch_line)"
if [[ "$DEVICE" == cuda && "$gpu" == none ]]; then
  echo "gpu_check: torch sees no CUDA device; GPU_CHECK_DEVICE=cpu runs the check on the CPU" >&2
  exit 2
fi
row "GPU (torch)" "$gpu; $torch_line"

section "CUDA tests (pytest -m cuda; skipped without a GPU)"
if (cd "$ROOT" && "$PY" -m pytest -q -m cuda tests/core -p no:cacheprovider 2>&1 | tee "$WORK/cuda_tests.log"); then
  row "CUDA tests" "$(tail -n 1 "$WORK/cuda_tests.log" | tr -d '=' | xargs)" "all pass"
else
  row "CUDA tests" "FAILED: $(tail -n 1 "$WORK/cuda_tests.log" | tr -d '=' | xargs)" "all pass"
  status=1
fi

section "ncglf2 bench --device $DEVICE ${BENCH[*]:-} (float32 and bfloat16)"
if [[ "${GPU_CHECK_BENCH:-1}" == 0 ]]; then
  row "bench" "left out (GPU_CHECK_BENCH=0)"
elif "$NCGLF2" bench --device "$DEVICE" "${BENCH[@]}" 2>&1 | tee "$WORK/bench.log"; then
  for precision in float32 bfloat16; do
    rate="$(sed -n "s/^inference $precision *: *\([0-9,]*\) patches\/s at batch \([0-9]*\).*/\1 patches\/s (batch \2)/p" "$WORK/bench.log")"
    row "bench: inference $precision" "${rate:-not found}"
  done
  epoch="$(sed -n 's/^training, paper protocol.*: \([0-9.]*\) s per epoch.*/\1/p' "$WORK/bench.log")"
  row "bench: training epoch, paper protocol (300 patches, batch 64)" "${epoch:-?} s" \
    "< 0.5 s${epoch:+: $(verdict "$epoch" 0.5)}"
  for precision in float32 bfloat16; do
    line="$(sed -n "s/^end to end $precision *: *\([0-9,]*\) pixels\/s (\([^,]*\), \([0-9.]*\) s incl.*/\3 s, \1 pixels\/s (\2)/p" "$WORK/bench.log")"
    row "bench: end to end $precision, random weights" "${line:-not found}"
  done
else
  row "bench" "FAILED (see the log above)"
  status=1
fi

section "a Houston-size scene: $HEIGHT x $WIDTH pixels, $BANDS HSI bands + 1 LiDAR band"
mkdir "$WORK/scene"
started="$(now)"
"$PY" "$ROOT/tools/houston_scene.py" "$WORK/scene" --height "$HEIGHT" --width "$WIDTH" --bands "$BANDS"
row "scene built ($HEIGHT x $WIDTH x $BANDS + 1)" "$(since "$started") s"
SCENE=(--hsi "$WORK/scene/hsi.tif" --lidar "$WORK/scene/lidar.tif")

section "ncglf2 train: paper protocol, $EPOCHS epochs on $DEVICE"
# Every line of the log with the time it arrived: the epochs' own durations, without the start-up.
stamp() { "$PY" -u -c 'import sys, time
for line in sys.stdin:
    print(f"{time.monotonic():.4f} {line}", end="", flush=True)'; }
started="$(now)"
if "$NCGLF2" train "${SCENE[@]}" --labels "$WORK/scene/labels.tif" --out "$WORK/model.ncglf2" \
  --protocol paper --validation-split random --epochs "$EPOCHS" --device "$DEVICE" 2>&1 | stamp | tee "$WORK/train.log"; then
  took="$(since "$started")"
  epoch="$("$PY" -c 'import re, statistics, sys
times = [float(line.split()[0]) for line in open(sys.argv[1]) if re.match(r"\S+ epoch \d+/\d+:", line)]
gaps = [b - a for a, b in zip(times, times[1:])]
print(f"{statistics.median(gaps):.3f}" if gaps else "")' "$WORK/train.log")"
  row "train: seconds per epoch, paper protocol (median of $EPOCHS)" "${epoch:-?} s" \
    "< 0.5 s${epoch:+: $(verdict "$epoch" 0.5)}"
  row "train: whole command ($EPOCHS epochs, start-up and PCA included)" "$took s"
else
  row "train" "FAILED (see the log above)" "< 0.5 s per epoch"
  status=1
fi

# One timed `ncglf2 classify` of the whole scene: $1 = the table's name, $2 = the output's name, then options.
classify() {
  local name="$1" out="$2"
  shift 2
  section "ncglf2 classify ($name) on $DEVICE"
  local started took inner
  started="$(now)"
  if "$NCGLF2" classify --model "$WORK/model.ncglf2" "${SCENE[@]}" --out "$WORK/$out" --device "$DEVICE" \
    --overwrite "$@" 2>&1 | tee "$WORK/$out.log"; then
    took="$(since "$started")"
    inner="$(sed -n 's/^classified \([0-9]*\) pixels in \([0-9.]*\) s.*/\2 s for \1 pixels/p' "$WORK/$out.log")"
    row "classify $name: whole command (Python, torch and CUDA start-up included)" "$took s" \
      "< 5 s: $(verdict "$took" 5)"
    row "classify $name: the job (read, preprocess, infer, write)" "${inner:-?}"
  else
    row "classify $name" "FAILED (see the log above)" "< 5 s"
    status=1
  fi
}

# Tile-parallel classification on Dask, the way a cluster runs it: a scheduler and one worker started by hand,
# the worker offering the GPU resource on the first GPU (one worker per GPU); its map must equal the
# single-process one byte for byte.
dask_check() {
  if ! "$PY" -c "import distributed" 2>/dev/null; then
    row "classify on Dask" "left out: Dask distributed is not installed"
    return
  fi
  local port
  port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$PY" -m distributed.cli.dask_scheduler --host 127.0.0.1 --port "$port" --no-dashboard \
    >"$WORK/scheduler.log" 2>&1 &
  DASK_PIDS+=($!)
  local resources=()
  [[ "$DEVICE" == cuda ]] && resources=(--resources GPU=1)
  CUDA_VISIBLE_DEVICES="${CUDA_VISIBLE_DEVICES:-0}" OMP_NUM_THREADS=1 "$PY" -m distributed.cli.dask_worker \
    "tcp://127.0.0.1:$port" --nthreads 1 --no-dashboard --host 127.0.0.1 "${resources[@]}" \
    >"$WORK/worker.log" 2>&1 &
  DASK_PIDS+=($!)
  classify "Dask, a scheduler and 1 worker${resources:+ with --resources GPU=1}" classes_dask.tif \
    --dask "tcp://127.0.0.1:$port"
  if [[ -f "$WORK/classes_dask.tif" ]]; then
    if cmp -s "$WORK/classes.tif" "$WORK/classes_dask.tif"; then
      row "classify on Dask: class map" "byte-identical to the single-process map" "identical: met"
    else
      row "classify on Dask: class map" "DIFFERS from the single-process map" "identical: missed"
      status=1
    fi
  fi
}

if [[ -f "$WORK/model.ncglf2" ]]; then
  classify "GeoTIFF, float32" classes.tif
  if [[ "$DEVICE" == cuda ]]; then
    classify "GeoTIFF, bfloat16" classes_bf16.tif --precision bfloat16
  else
    row "classify GeoTIFF, bfloat16" "left out on the CPU (slow without AVX512-BF16; see ncglf2 bench)"
  fi
  classify "Cloud Optimized GeoTIFF, float32" classes_cog.tif --format COG
  dask_check
fi

section "summary ($DEVICE)"
echo "| item | value | target |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
exit "$status"
