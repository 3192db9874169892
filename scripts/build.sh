#!/usr/bin/env bash
# Builds build/plugin.wasm (optimized) and build/plugin.debug.wasm (with names and a source map).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
common=(assembly/index.ts --runtime incremental --exportStart _initialize
        --use abort=assembly/abi/abort/abortHandler)
npx --no-install asc "${common[@]}" -O3 --noAssert -o build/plugin.wasm
npx --no-install asc "${common[@]}" --debug --sourceMap -o build/plugin.debug.wasm
echo "built build/plugin.wasm ($(wc -c < build/plugin.wasm) bytes) and build/plugin.debug.wasm"
