// The dashboard page in headless Chromium against a real Envoy and the mock provider: a wrong
// token shows an error and no data; the right one shows the keys; a killed key (401) turns to dead
// within two polls, and comes back once healed. Skipped, with the reason, where Chromium is missing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { ROOT } from '../../scripts/envoy_bin.js';
import { chat, setTokens, startGateway } from './harness.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
const TOKENS = ['sk-dash-a', 'sk-dash-b', 'sk-dash-c', 'sk-dash-d'];
const STATUS_TOKEN = 'dashboard-e2e-secret';
// The browser globals the page functions below use: they run in Chromium (Playwright sends them
// there; strings would be evaluated, which the page's CSP forbids), so Node's types lack them.
declare const document: {
  querySelectorAll(selector: string): ArrayLike<{ textContent: string | null; scrollWidth: number; clientWidth: number; getAttribute(name: string): string | null }>;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number };
const allFourIn = () => document.querySelectorAll('#keys tr .state.in').length === 4;
const oneDead = () => Array.from(document.querySelectorAll('#keys tr .state')).some((s) => s.textContent === 'dead');
// Nothing is wider than the screen, and no card scrolls sideways either.
const fitsTheScreen = () => document.documentElement.scrollWidth <= window.innerWidth &&
  Array.from(document.querySelectorAll('.card')).every((c) => c.scrollWidth <= c.clientWidth);
const chartLabels = () => Array.from(document.querySelectorAll('#chart text')).map((t) => t.textContent ?? '');
/** Per key (by fingerprint), the "requests, last min" and "failed, last min" cells. */
const trafficCells = () => Array.from(document.querySelectorAll('#keys td')).filter((td) => /last min/.test(td.getAttribute('data-label') ?? '')).map((td) => td.textContent ?? '');

test('the dashboard shows the keys, a killed key (401) turning to dead within two polls and coming back', { skip: CHROMIUM ? false : 'no Chromium (install Debian\'s chromium or set CHROMIUM_BIN)' }, async () => {
  const gw = await startGateway({
    statusPath: '/ai-token-failover/status',
    statusToken: STATUS_TOKEN,
    // A dead key's probes are at most 2 s apart here, so the healed key is back within the wait below.
    provider: { apiTokens: TOKENS, failover: { enabled: true, failureThreshold: 1, healthCheckInterval: 1000, maxProbeInterval: 2000, healthCheckModel: 'm' } },
    queue: { enabled: true },
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage({ viewport: { width: 390, height: 760 } });
    const response = await page.goto(gw.url('/ai-token-failover/status'));
    assert.ok(response, 'no answer to the page request');
    assert.equal(response.status(), 200);
    assert.match(response.headers()['content-security-policy'], /default-src 'none'; script-src 'nonce-[0-9a-f]+'/);
    const rows = page.locator('#keys tr');

    await page.fill('#token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('#error:has-text("Wrong status token")', { timeout: 5000 });
    assert.equal(await rows.count(), 0);
    assert.equal(await page.isVisible('#view'), false);

    await page.fill('#token', STATUS_TOKEN);
    await page.click('button[type=submit]');
    await page.waitForFunction(allFourIn, null, { timeout: 5000 });
    assert.match(await page.textContent('#queue') ?? '', /^queue: 0 of 500 waiting/);
    assert.ok(!page.url().includes(STATUS_TOKEN), 'the token is in the URL');
    assert.equal(await page.isVisible('#login'), false);
    const html = await page.content();
    for (const t of TOKENS) assert.ok(!html.includes(t), 'a key appears in the page');
    // Phone width: nothing is wider than the screen, and the table needs no sideways scroll.
    assert.ok(await page.evaluate(fitsTheScreen), 'the page is wider than a phone');
    // The chart has a count axis (0 to the keys configured) and a time axis ending now.
    const labels = await page.evaluate(chartLabels);
    for (const want of ['0', '4', 'now']) assert.ok(labels.includes(want), `chart labels ${JSON.stringify(labels)}`);
    assert.ok(labels.some((l) => /^-\d+ (s|min)$/.test(l)), `no start time on the time axis: ${JSON.stringify(labels)}`);
    assert.match(await page.textContent('#updated') ?? '', /^updated /);
    assert.match(await page.textContent('#lease') ?? '', /probed by|no worker probes yet/);

    // Traffic first: probes go where a request succeeded, so a gateway that has served nothing has no probe target.
    for (let i = 0; i < 4; i++) assert.equal((await chat(gw)).status, 200);
    setTokens(gw, { 'sk-dash-b': '401' });
    // (The browser's own requests, such as /favicon.ico, also reach the provider: count from here.)
    const from = gw.mock.requests.length;
    for (let i = 0; i < 40 && !gw.mock.requests.slice(from).some((r) => r.token === 'sk-dash-b'); i++) await chat(gw);
    assert.ok(gw.mock.requests.slice(from).some((r) => r.token === 'sk-dash-b'), 'the killed key was never used');
    const killedAt = Date.now();
    await page.waitForFunction(oneDead, null, { timeout: 2 * 2000 + 1500 });
    assert.ok(Date.now() - killedAt <= 2 * 2000 + 1500);
    const shot = process.env.UPDATE_SCREENSHOT === '1' ? path.join(ROOT, 'docs/dashboard.png') : path.join(os.tmpdir(), 'ai-token-failover-dashboard.png');
    fs.mkdirSync(path.dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });

    // Per key, the requests of the last minute add up to what the provider received with pool keys,
    // whichever worker served them, and the killed key shows its failures.
    const keyed = () => gw.mock.requests.filter((r) => TOKENS.includes(String(r.token)) && r.headers['user-agent'] !== 'ai-token-failover-probe').length;
    const sums = async (): Promise<number> => {
      const cells = await page.evaluate(trafficCells);
      return cells.filter((_, i) => i % 2 === 0).reduce((n, c) => n + Number(c), 0);
    };
    const deadline = Date.now() + 6000;
    while (Date.now() < deadline && await sums() !== keyed()) await new Promise((r) => setTimeout(r, 300));
    assert.equal(await sums(), keyed(), 'the requests column does not add up to the requests sent');
    const cells = await page.evaluate(trafficCells);
    assert.ok(cells.some((c, i) => i % 2 === 1 && /^[1-9]\d* \(\d+%\)$/.test(c)), `no failures shown: ${JSON.stringify(cells)}`);
    assert.ok(await page.evaluate(fitsTheScreen), 'with data the page is wider than a phone');

    setTokens(gw, { 'sk-dash-b': 'ok' });
    await page.waitForFunction(allFourIn, null, { timeout: 8000 });
  } finally {
    await browser.close();
    await gw.stop();
  }
});
