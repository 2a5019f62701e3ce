#!/usr/bin/env bash
# The engine benchmark on a real GPU: headless Chromium with WebGPU and WebGL over the machine's Vulkan driver
# (playwright.config.ts, HARDWARE_GPU_ARGS), the default model, WebGPU, WebGL and WASM side by side, and the
# onnxruntime-web peer when an ONNX export of the model is at hand. Sized to finish in about five minutes.
#
#   scripts/bench-real-gpu.sh [out.json]        (default bench-results/real-gpu-<UTC time>.json, .md beside it)
#
# Needs: a GPU with a Vulkan driver, /usr/bin/chromium (or CHROMIUM_PATH), node_modules. It exits 2, after
# writing what it measured, when WebGPU or WebGL landed on a software adapter (no real GPU was used), and 124
# when it ran past its time limit. docs/benchmarks.md says what to read in the output.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/deps.sh
ensure_node_modules

out="${1:-bench-results/real-gpu-$(date -u +%Y%m%dT%H%M%SZ).json}"
model=public/models/fashion-mnist
onnx=node_modules/.cache/infodiff-bench/onnx/fashion-mnist
peer=()
if [ -f "$onnx/denoiser.onnx" ] || (cd train && timeout 120 /usr/bin/python3 -m infodiff.onnx_export --package "../$model" --out "../$onnx" >/dev/null); then
  peer=(--onnx "$onnx")
else
  echo "bench-real-gpu: no ONNX export (PyTorch missing?); measuring without the onnxruntime-web peer" >&2
fi

# Three repeats keep WebGPU's shader compilation, WebGL and WASM within the budget; Node backends are left out
# (they do not touch the GPU).
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
exec timeout 300 npx tsx src/cli/bench.ts "$model" --gpu hardware --backends webgpu,webgl,wasm --node-backends '' \
  --repeats 3 "${peer[@]}" --out "$out"
