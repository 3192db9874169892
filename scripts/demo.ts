// `npm start`: the mock provider on :8081 and Envoy (two workers) with the plugin on :10000,
// configured by envoy/envoy.yaml. Stops both on Ctrl-C.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { ROOT, resolveEnvoyOrExit } from './envoy_bin.js';
import { startMockProvider } from '../envoy/mock_provider.js';

/** Whether 127.0.0.1:`port` can be listened on now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

const envoyBin = resolveEnvoyOrExit();
// Envoy's listener and admin port: a busy one would end Envoy with a line that is easy to miss.
for (const [port, what] of [[10000, 'the gateway (Envoy listener)'], [9901, 'Envoy admin']] as const) {
  if (!(await portFree(port))) {
    console.error(`cannot listen on 127.0.0.1:${port} for ${what}: something else uses it (an earlier npm start?); stop it and retry`);
    process.exit(1);
  }
}
const mock = await startMockProvider(8081).catch((e) => {
  console.error(`cannot listen on 127.0.0.1:8081 for the mock provider (${(e as NodeJS.ErrnoException).code}): something else uses it; stop it and retry`);
  return process.exit(1);
});
const envoy = spawn(envoyBin, ['-c', 'envoy/envoy.yaml', '--concurrency', '2', '--disable-hot-restart', '-l', 'warning', '--component-log-level', 'wasm:info'],
  { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
envoy.on('exit', async (code) => {
  console.error(`envoy exited (${code})`);
  await mock.close();
  process.exit(code ?? 1);
});

async function waitReady(): Promise<boolean> {
  for (let i = 0; i < 300; i++) {
    try { if ((await fetch('http://127.0.0.1:9901/ready')).ok) return true; } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

if (await waitReady()) {
  console.log(`
ai-token-failover is running: Envoy :10000 -> plugin -> mock provider :8081 (tokens sk-demo-1..4)

  curl -s localhost:10000/v1/chat/completions -H 'authorization: Bearer demo-client-key' \\
       -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'

  (clients authenticate with Envoy's api_key_auth filter: without demo-client-key Envoy answers 401)

  pool status:       curl -s localhost:10000/ai-token-failover/status -H 'authorization: Bearer demo-status-token'
  dashboard:         open http://localhost:10000/ai-token-failover/status in a browser, token demo-status-token
  kill a token:      curl -s localhost:8081/__mock/tokens -d '{"sk-demo-2":"401"}'
  heal it again:     curl -s -X POST localhost:8081/__mock/reset
  metrics:           curl -s localhost:9901/stats/prometheus | grep ai_token_failover
  what the provider saw: curl -s localhost:8081/__mock/requests

Ctrl-C stops Envoy and the mock provider.`);
}

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => envoy.kill('SIGTERM'));
