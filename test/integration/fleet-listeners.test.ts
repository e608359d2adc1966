/**
 * The fleet listener glue: routing by address through the Emulator, and firmware RAM (digest
 * nonces) that does not survive a power cycle.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/clock/virtual-clock.js';
import { Emulator } from '../../src/fleet/emulator.js';
import { attachListeners, type AttachedListeners } from '../../src/fleet/listeners.js';
import { digestResponse, formatNc, parseDigestChallenge } from '../../src/provisioning/digest.js';

const IDENTIFY_FREE_GET = '<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</w:ResourceURI><a:MessageID>1</a:MessageID></s:Header><s:Body/></s:Envelope>';

function post(host: string, port: number, authorization?: string): Promise<{ status: number; challenge?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path: '/wsman', method: 'POST', headers: { 'Content-Type': 'application/soap+xml', ...(authorization ? { Authorization: authorization } : {}) }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.headers['www-authenticate'] ? { challenge: res.headers['www-authenticate'] } : {}) }));
    });
    req.on('error', reject);
    req.end(IDENTIFY_FREE_GET);
  });
}

describe('fleet listeners', () => {
  let emu: Emulator;
  let listeners: AttachedListeners;
  const clock = new VirtualClock();
  beforeAll(async () => {
    emu = await Emulator.start({ clock, seed: 'fleet-listeners', network: { serverAddress: '127.0.0.1', dhcpPort: 0, dnsPort: 0, domain: 'corp.example.test', ipBase: '127.94.0.10' } });
    listeners = await attachListeners(emu, { http: 0, https: 0, redirection: null, rmcp: null });
    emu.addDevices(2, { state: 'configured', profile: 'amt12', adminPassword: 'Adm1n-Pass!' });
    emu.powerOnAll();
    await clock.runUntil(() => [...emu.devices.values()].every((d) => d.address !== undefined), 60_000);
  });
  afterAll(async () => {
    await listeners?.close();
    await emu?.stop();
  });

  it('a digest nonce issued before a power cycle is not accepted after it', async () => {
    const pc = emu.device('pc2');
    const host = pc.address!;
    const first = await post(host, listeners.ports.http);
    expect(first.status).toBe(401);
    const c = parseDigestChallenge(first.challenge!)!;
    const authFor = (nc: number): string => {
      const ncs = formatNc(nc);
      const response = digestResponse({ username: 'admin', password: 'Adm1n-Pass!', challenge: c, method: 'POST', uri: '/wsman', nc, cnonce: 'abcdef0123456789' });
      return `Digest username="admin", realm="${c.realm}", nonce="${c.nonce}", uri="/wsman", qop=auth, nc=${ncs}, cnonce="abcdef0123456789", response="${response}"`;
    };
    expect((await post(host, listeners.ports.http, authFor(1))).status).toBe(200);
    pc.powerOff();
    pc.powerOn();
    await clock.runUntil(() => pc.address !== undefined, 60_000);
    const after = await post(host, listeners.ports.http, authFor(2));
    expect(after.status).toBe(401);
    // The other PC was not power-cycled: routing by address still reaches it.
    expect((await post(emu.device('pc1').address!, listeners.ports.http)).status).toBe(401);
  });
});
