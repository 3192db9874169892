#!/usr/bin/env bash
# The Higress tier: Higress's own plugin test framework (wasm-go's pkg/test over proxy-wasm-go-sdk's
# proxytest in wasm mode, on wazero, with Higress's Redis ABI) runs build/plugin.wasm and
# build/plugin.higress.wasm. That host lacks two functions Envoy exports and the modules import
# (proxy_get_log_level, proxy_get_current_time_nanoseconds): they are added, as Envoy behaves, to a
# copy of the SDK made here from the Go module cache (supply_host_functions.ts), used through a
# temporary module file that replaces the SDK with the copy. Versions are pinned in go.mod/go.sum.
set -euo pipefail
cd "$(dirname "$0")"
# Without Go the tier says so and is skipped, unless REQUIRE_GO is set (CI sets it).
if ! command -v go >/dev/null; then
  echo "skipped: the Higress tier needs Go (go not found)"
  [ -z "${REQUIRE_GO:-}" ] || exit 1
  exit 0
fi
for f in ../../build/plugin.wasm ../../build/plugin.higress.wasm; do
  [ -f "$f" ] || { echo "missing $f: run npm run build first"; exit 1; }
done
go mod download
sdk=$(go list -m -f '{{.Dir}}' github.com/higress-group/proxy-wasm-go-sdk)
work=$(mktemp -d)
trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
cp -r "$sdk" "$work/sdk"
chmod -R u+w "$work/sdk"
node --import tsx supply_host_functions.ts "$work/sdk/proxywasm/proxytest/wasmwrapper.go"
cp go.mod go.sum "$work/"
go mod edit -modfile="$work/go.mod" -replace "github.com/higress-group/proxy-wasm-go-sdk=$work/sdk"
PLUGIN_WASM="$PWD/../../build/plugin.wasm" HIGRESS_WASM="$PWD/../../build/plugin.higress.wasm" \
  go test -modfile="$work/go.mod" -count=1 -v ./... 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|Error|error|_test.go:' ; exit "${PIPESTATUS[0]}"
