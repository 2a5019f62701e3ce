#!/usr/bin/env bash
# `npm start`: install dependencies if needed, build the app with its bundled models, serve it.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/deps.sh
ensure_node_modules
npx vite build --logLevel warn
echo "InfoDiffusion Explorer: http://localhost:${PORT:-4173}/"
exec npx vite preview --host "${HOST:-localhost}" --port "${PORT:-4173}" --strictPort
