#!/usr/bin/env bash
# Builds build/plugin.wasm (optimized) and build/plugin.debug.wasm (names and a source map).
# Flags live in asconfig.json.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install asc assembly/index.ts --target release
npx --no-install asc assembly/index.ts --target debug
echo "built build/plugin.wasm ($(wc -c < build/plugin.wasm) bytes) and build/plugin.debug.wasm"
