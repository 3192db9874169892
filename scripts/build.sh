#!/usr/bin/env bash
# Builds build/plugin.wasm (standard Proxy-Wasm ABI: Envoy, Istio, Higress), build/plugin.higress.wasm
# (also imports Higress's Redis host functions) and build/plugin.debug.wasm (names and a source
# map), side by side. `npm run build:collect-always` adds the emulator tier's test build.
# Flags live in asconfig.json.
set -euo pipefail
cd "$(dirname "$0")/.."
pids=()
npx --no-install asc assembly/index.ts --target release & pids+=($!)
npx --no-install asc assembly/index.higress.ts --target higress & pids+=($!)
npx --no-install asc assembly/index.ts --target debug & pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done
echo "built build/plugin.wasm ($(wc -c < build/plugin.wasm) bytes), build/plugin.higress.wasm ($(wc -c < build/plugin.higress.wasm) bytes) and build/plugin.debug.wasm"
