// Adds to proxytest's wasm-mode host (a copy of proxy-wasm-go-sdk's proxywasm/proxytest/wasmwrapper.go,
// path given as the argument) the two host functions Envoy exports that it lacks and the plugin's
// modules import, behaving as Envoy does: proxy_get_log_level answers info (2), and
// proxy_get_current_time_nanoseconds the wall clock. Fails loudly when the file is not as expected.
import fs from 'node:fs';

const file = process.argv[2];
let text = fs.readFileSync(file, 'utf8');
const end = 'Export("proxy_get_metric").\n\t\tInstantiate(ctx)';
if (!text.includes(end)) throw new Error(`${file}: the end of exportHostABI is not where this patch expects it`);
const added = `Export("proxy_get_metric").
		NewFunctionBuilder().
		WithFunc(func(ctx context.Context, mod api.Module, levelPtr uint32) uint32 {
			mod.Memory().WriteUint32Le(levelPtr, 2)
			return 0
		}).
		Export("proxy_get_log_level").
		NewFunctionBuilder().
		WithFunc(func(ctx context.Context, mod api.Module, timePtr uint32) uint32 {
			mod.Memory().WriteUint64Le(timePtr, uint64(time.Now().UnixNano()))
			return 0
		}).
		Export("proxy_get_current_time_nanoseconds").
		Instantiate(ctx)`;
text = text.replace(end, added);
if (!/^\s*"time"$/m.test(text)) text = text.replace('import (\n', 'import (\n\t"time"\n');
fs.writeFileSync(file, text);
