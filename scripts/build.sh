#!/usr/bin/env bash
# Builds build/plugin.wasm (standard Proxy-Wasm ABI: Envoy, Istio, Higress), build/plugin.higress.wasm
# (also imports Higress's Redis host functions) and build/plugin.debug.wasm (names and a source map).
# Flags live in asconfig.json.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install asc assembly/index.ts --target release
npx --no-install asc assembly/index.higress.ts --target higress
npx --no-install asc assembly/index.ts --target debug
echo "built build/plugin.wasm ($(wc -c < build/plugin.wasm) bytes), build/plugin.higress.wasm ($(wc -c < build/plugin.higress.wasm) bytes) and build/plugin.debug.wasm"
