// Higress's own plugin test framework (wasm-go's pkg/test over proxy-wasm-go-sdk's proxytest in
// wasm mode, on wazero) running the compiled modules: see run.sh. wazero is raised from the SDK's
// v1.7.2 to v1.9.0: v1.7.2's and v1.7.3's amd64 compiler trap ("out of bounds memory access") in
// AssemblyScript's String.__concat on some Xeon hosts, where their interpreter, V8 and v1.9.0 do not.
module ai-token-failover/tests/higress

go 1.24.1

require (
	github.com/higress-group/proxy-wasm-go-sdk v0.0.0-20251103120604-77e9cce339d2
	github.com/higress-group/wasm-go v1.1.1
	github.com/stretchr/testify v1.9.0
)

require (
	github.com/davecgh/go-spew v1.1.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	github.com/tetratelabs/wazero v1.9.0 // indirect
	github.com/tidwall/resp v0.1.1 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
