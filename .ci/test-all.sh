#!/usr/bin/env bash
# `npm test`: every test of the project, on a fresh Debian machine with Node >= 20.
# Installs the missing system packages (Chromium, Debian's PyTorch, FashionMNIST, ...) and node_modules first.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/deps.sh

ensure_apt_packages chromium python3-torch python3-numpy python3-scipy python3-sklearn python3-pil \
  python3-tqdm python3-pytest dataset-fashion-mnist
ensure_node_modules

PY=/usr/bin/python3  # Debian's interpreter, the one with torch (another python3 may come first on PATH)
# Each step's heading says when it started (seconds into the run), so a log shows where the time goes.
step() { printf '\n=== %s (at %d s) ===\n' "$*" "$SECONDS"; }
SECONDS=0

step "Fixture model and golden parity files, from the PyTorch implementation"
(cd train && $PY -m infodiff.fixture)

# pytest runs on one core for about two and a half minutes; the type check, lint and Vitest run beside it on the
# other rather than after it. Its output is shown, and its result checked, once they are done.
step "PyTorch pipeline tests (in the background, beside the type check, lint and unit tests)"
pytest_log=$(mktemp)
(cd train && exec $PY -m pytest -q tests) >"$pytest_log" 2>&1 &
pytest_pid=$!
# If a step below fails, the script stops; take the background pytest down with it.
trap 'kill "$pytest_pid" 2>/dev/null || true' EXIT

step "Typecheck and lint"
npx tsc -p tsconfig.json --noEmit
npm run --silent lint

step "Unit tests (Vitest, tfjs CPU backend)"
npx vitest run

step "PyTorch pipeline tests: their output"
pytest_status=0
wait "$pytest_pid" || pytest_status=$?
trap - EXIT
cat "$pytest_log"
rm -f "$pytest_log"
if [ "$pytest_status" -ne 0 ]; then
  echo "PyTorch pipeline tests failed (exit status $pytest_status)" >&2
  exit "$pytest_status"
fi

step "End-to-end tests (Playwright, headless Chromium, WebGPU on SwiftShader)"
npx playwright test

step "All tests passed"
