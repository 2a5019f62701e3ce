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
step() { printf '\n=== %s ===\n' "$*"; }

step "Fixture model and golden parity files, from the PyTorch implementation"
(cd train && $PY -m infodiff.fixture)

step "PyTorch pipeline tests"
(cd train && $PY -m pytest -q tests)

step "Typecheck and lint"
npx tsc -p tsconfig.json --noEmit
npm run --silent lint

step "Unit tests (Vitest, tfjs CPU backend)"
npx vitest run

step "End-to-end tests (Playwright, headless Chromium, WebGPU on SwiftShader)"
npx playwright test
