#!/usr/bin/env bash
# Builds build/plugin.wasm (standard Proxy-Wasm ABI: Envoy, Istio, Higress), build/plugin.higress.wasm
# (also imports Higress's Redis host functions), build/plugin.debug.wasm (names and a source map)
# and build/plugin.collect-always.wasm (a test build, see assembly/runtime/collector.ts).
# Flags live in asconfig.json.
set -euo pipefail
cd "$(dirname "$0")/.."
npx --no-install asc assembly/index.ts --target release
npx --no-install asc assembly/index.higress.ts --target higress
npx --no-install asc assembly/index.ts --target debug
# For the emulator tier only: the same module collecting garbage after every callback.
npx --no-install asc assembly/index.ts --target release --use COLLECT_EVERY_CALLBACK=1 -o build/plugin.collect-always.wasm
echo "built build/plugin.wasm ($(wc -c < build/plugin.wasm) bytes), build/plugin.higress.wasm ($(wc -c < build/plugin.higress.wasm) bytes), build/plugin.debug.wasm and build/plugin.collect-always.wasm"
