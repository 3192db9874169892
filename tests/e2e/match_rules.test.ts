// Rules by route name in a real Envoy (two workers) behind the provider-shaped route: one filter
// serves two named routes, each with a pool of its own (Higress matchRules as `_rules_`, matched
// here on Envoy's route names), and a dead key in one pool never touches the other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PluginConfig } from '../../envoy/config.js';
import { chat, isProbe, setTokens, waitFor } from './harness.js';
import { startProviderGateway } from './provider_gateway.js';
import type { StatusDocument } from '../host/status_document.js';

const STATUS = { statusPath: '/ai-token-failover/status', statusToken: 'rules-status-token' };
const TEAM_A = ['sk-team-a-1', 'sk-team-a-2'];
const TEAM_B = ['sk-team-b-1', 'sk-team-b-2'];

test('two named routes, two pools: each route uses only its keys, a dead key in one pool never touches the other, the status document and the metrics show both', async () => {
  const config = {
    ...STATUS,
    provider: { apiTokens: ['sk-global'], failover: { enabled: true, healthCheckInterval: 1000, healthCheckModel: 'gpt-4o-mini' }, retryOnFailure: { enabled: true } },
    _rules_: [
      { _match_route_: ['team-a'], provider: { apiTokens: TEAM_A } },
      { _match_route_: ['team-b'], provider: { apiTokens: TEAM_B } },
    ],
  } as unknown as PluginConfig;
  const gw = await startProviderGateway(config, {
    routes: (routes) => {
      const inference = routes[1];
      routes.splice(1, 1,
        { ...inference, name: 'team-a', match: { prefix: '/team-a/v1/' } },
        { ...inference, name: 'team-b', match: { prefix: '/team-b/v1/' } });
    },
  });
  try {
    const send = (team: string) => chat(gw, { path: `/${team}/v1/chat/completions` });
    const keysOf = async (team: string, n: number) => {
      const from = gw.mock.requests.length;
      for (let i = 0; i < n; i++) assert.equal((await send(team)).status, 200);
      return new Set(gw.mock.requests.slice(from).filter((r) => !isProbe(r)).map((r) => r.token));
    };
    assert.deepEqual([...await keysOf('team-a', 20)].sort(), TEAM_A);
    assert.deepEqual([...await keysOf('team-b', 20)].sort(), TEAM_B);
    // team-a's first key dies: its pool takes it out (probed with team-a's route), team-b's stays whole.
    setTokens(gw, { 'sk-team-a-1': '401' });
    const status = async (): Promise<StatusDocument> => JSON.parse((await chat(gw, { method: 'GET', path: STATUS.statusPath, token: STATUS.statusToken })).body) as StatusDocument;
    assert.ok(await waitFor(async () => {
      for (let i = 0; i < 5; i++) assert.equal((await send('team-a')).status, 200);
      return (await status()).pools.find((p) => p.rule === 0)?.tokensInPool === 1;
    }, 15_000, 0), 'the dead key did not leave team-a\'s pool');
    const pools = (await status()).pools;
    assert.deepEqual(pools.map((p) => [p.rule, p.tokensConfigured, p.tokensInPool]), [[null, 1, 1], [0, 2, 1], [1, 2, 2]]);
    assert.deepEqual([...await keysOf('team-a', 10)], ['sk-team-a-2']);
    assert.deepEqual([...await keysOf('team-b', 20)].sort(), TEAM_B);
    const inPool = (await gw.stats()).split('\n').filter((l) => l.startsWith('ai_token_failover_tokens_in_pool{'));
    assert.equal(inPool.length, 3, inPool.join('\n'));
    for (const p of pools) assert.ok(inPool.some((l) => l.includes(`pool="${p.pool}"`)), `no series for ${p.pool}`);
  } finally {
    await gw.stop();
  }
});
