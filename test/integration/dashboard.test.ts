/**
 * The dashboard end to end: Debian's chromium (headless, driven by playwright-core) opens the
 * fleet page of a running API, follows a device, clicks "Power off" and sees the device's
 * power, its timeline and the fleet table change live through the SSE stream; a second change
 * made behind the page's back (through the API) shows up without a reload. Screenshots go to a
 * temp dir (path printed) for a human look.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ControlApi } from '../../src/api/server.js';
import { userConsentFor } from '../../src/device/user-consent.js';
import { startFleet, type RunningFleet } from '../../src/fleet/fleet-runner.js';

const CHROMIUM = '/usr/bin/chromium';
let fleet: RunningFleet;
let api: ControlApi;
let base: string;
let browser: BrowserContext;
let profileDir: string;
const shots = mkdtempSync(join(tmpdir(), 'amtemu-dashboard-'));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  fleet = await startFleet({
    time: 'virtual',
    seed: 'dashboard',
    network: { ipBase: '127.95.0.10', serverAddress: '127.95.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test' },
    provisioning: { kind: 'address', address: '127.95.0.2', port: 9 },
    ports: { http: 0, https: 0, redirection: null, redirectionTls: null, rmcp: null },
    defaults: { state: 'setup', profile: 'amt16', adminPassword: 'P@ssw0rd' },
    devices: [
      { id: 'desk1', fields: {} },
      { id: 'desk2', fields: {} },
      { id: 'desk3', fields: { state: 'configured' } },
      { id: 'nb1', fields: { state: 'factory', trigger: 'listen', profile: 'amt15' } },
    ],
  });
  api = await buildApi({ emu: fleet.emu, clock: fleet.clock, virtual: fleet.virtual, faults: fleet.faults, name: 'dashboard-test' });
  base = `http://127.0.0.1:${await api.listen(0)}`;
  fleet.emu.powerOnAll();
  await fleet.virtual!.advance(90_000);
  profileDir = mkdtempSync(join(tmpdir(), 'amtemu-chromium-'));
  // A fresh profile per run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 30_000,
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await fleet?.stop();
  if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  // Screenshots stay for a look; the path is printed by the test.
});

describe('dashboard', () => {
  it('shows the fleet, and a power-off click updates state and last event live', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${base}/`, { timeout: 15_000 });
    await page.locator('#device-rows tr').nth(3).waitFor({ timeout: 10_000 });
    expect(await page.locator('#device-rows tr').count()).toBe(4);
    expect(await page.textContent('#count-total')).toBe('4');
    expect(await page.textContent('#count-In')).toBe('2');
    expect(await page.textContent('#count-Post')).toBe('1');
    expect(await page.textContent('#count-Pre')).toBe('1');
    expect(await page.textContent('#fleet-name')).toBe('dashboard-test');
    await page.locator('#live.on').waitFor({ timeout: 10_000 });
    const desk1 = page.locator('#device-rows tr[data-id="desk1"]');
    expect(await desk1.locator('td').nth(4).textContent()).toBe('127.95.0.10');
    await page.screenshot({ path: join(shots, 'fleet.png'), fullPage: true });

    // A change made elsewhere (through the API) reaches the fleet table without a reload.
    await fetch(`${base}/api/devices/desk2/power`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'off' }) });
    await page.locator('#device-rows tr[data-id="desk2"] td.ev', { hasText: 'power.off' }).waitFor({ timeout: 10_000 });
    await page.locator('#device-rows tr[data-id="desk2"] .power.off').waitFor({ timeout: 10_000 });
    await page.locator('#count-powered', { hasText: /^3$/ }).waitFor({ timeout: 10_000 });

    // The device page: facts, timeline, NVRAM; then click Power off.
    await desk1.locator('a').first().click();
    await page.locator('#device-view:not([hidden])').waitFor({ timeout: 10_000 });
    expect(await page.textContent('#dev-title')).toBe('desk1');
    await page.locator('#dev-timeline tr').first().waitFor({ timeout: 10_000 });
    expect(await page.textContent('#dev-nvram')).toContain('"deviceId": "desk1"');
    expect(await page.locator('#dev-facts .power').textContent()).toBe('on');
    await page.getByRole('button', { name: 'Power off' }).click();
    await page.locator('#dev-facts .power.off').waitFor({ timeout: 10_000 });
    await page.locator('#dev-timeline tr', { hasText: 'power.off' }).first().waitFor({ timeout: 10_000 });
    expect(fleet.emu.device('desk1').powered).toBe(false);
    expect(await page.textContent('#dev-result')).toBe('power off: done');
    // An agent command from the page: StartConfiguration on a powered-off PC answers NOT_READY.
    await page.getByRole('button', { name: 'StartConfiguration', exact: true }).click();
    await page.locator('#dev-result', { hasText: 'startConfiguration: NOT_READY' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(shots, 'device.png'), fullPage: true });

    // A console asks the configured desk3 for user consent: its page shows the code the PC's
    // screen displays, live, and takes it down when the console cancels.
    await page.goto(`${base}/#/device/desk3`);
    await page.locator('#dev-title', { hasText: 'desk3' }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#fact-screen')).toBe('—');
    const consent = userConsentFor(fleet.emu.device('desk3'));
    expect(consent.start()).toBe(0);
    await page.locator('#fact-screen.consent-code', { hasText: `user consent code ${consent.code!}` }).waitFor({ timeout: 10_000 });
    expect(await page.textContent('#fact-user\\ consent')).toBe('displayed');
    await page.screenshot({ path: join(shots, 'consent-code.png'), fullPage: true });
    consent.cancel();
    await page.locator('#fact-screen', { hasText: /^—$/ }).waitFor({ timeout: 10_000 });

    // The host's own power, from the page: a soft off takes a second of the fleet's clock.
    expect(await page.textContent('#fact-host')).toBe('on (S0)');
    await page.getByRole('button', { name: 'Host off' }).click();
    await page.locator('#dev-result', { hasText: 'host off: ReturnValue 0' }).waitFor({ timeout: 10_000 });
    await page.locator('#fact-host', { hasText: 'on (S0) · changing' }).waitFor({ timeout: 10_000 });
    await fetch(`${base}/api/time/advance`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ by: '2s' }) });
    await page.locator('#fact-host', { hasText: /^soft off \(S5\)$/ }).waitFor({ timeout: 10_000 });
    expect(fleet.emu.device('desk3').hostPower.state).toBe('S5');

    // Back on the fleet page, desk1's row shows the new state and its last event.
    await page.goto(`${base}/#/`);
    await page.locator('#device-rows tr[data-id="desk1"] .power.off').waitFor({ timeout: 10_000 });
    expect(await page.locator('#device-rows tr[data-id="desk1"] td.ev').textContent()).toMatch(/host\.StartConfiguration.*NOT_READY/);
    await page.screenshot({ path: join(shots, 'fleet-after.png'), fullPage: true });
    expect(errors).toEqual([]);
    process.stdout.write(`dashboard screenshots: ${shots}\n`);
  }, 60_000);

  it('renders /docs from /openapi.json without network', async () => {
    const page = await browser.newPage();
    const external: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base)) external.push(r.url());
    });
    await page.goto(`${base}/docs`);
    await page.locator('details summary', { hasText: '/api/devices/{id}/power' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('details').count()).toBeGreaterThan(20);
    expect(external).toEqual([]);
    await page.screenshot({ path: join(shots, 'docs.png') });
  }, 30_000);
});
