import { describe, expect, it } from 'vitest';
import { deviceAddress, isLoopback, parseIpv4, planAddresses } from '../../src/network/address-plan.js';

describe('loopback address plan (--ip-base)', () => {
  it('device i gets base + i, carrying across octets', () => {
    expect(planAddresses('127.77.0.254', 4)).toEqual({ ok: true, value: ['127.77.0.254', '127.77.0.255', '127.77.1.0', '127.77.1.1'] });
    expect(deviceAddress('127.77.0.10', 300)).toEqual({ ok: true, value: '127.77.1.54' });
  });

  it('refuses to leave 127.0.0.0/8 in loopback mode, with a one-line reason', () => {
    const r = planAddresses('127.255.255.250', 10);
    expect(r).toMatchObject({ ok: false, code: 'BAD_INPUT', message: expect.stringMatching(/ends at 128\.0\.0\.3.*past 127\.255\.255\.254/) });
    expect(planAddresses('10.0.0.1', 1)).toMatchObject({ ok: false, code: 'BAD_INPUT', message: expect.stringMatching(/outside 127/) });
    expect(planAddresses('127.0.0.0', 1)).toMatchObject({ ok: false, code: 'BAD_INPUT' });
    expect(planAddresses('10.0.0.1', 3, 'netns')).toEqual({ ok: true, value: ['10.0.0.1', '10.0.0.2', '10.0.0.3'] });
  });

  it('rejects malformed bases and counts', () => {
    for (const bad of ['127.0.0', '127.0.0.256', '127.00.0.1', ' ', 'localhost', '1.2.3.4.5']) {
      expect(planAddresses(bad, 1)).toMatchObject({ ok: false, code: 'BAD_INPUT' });
    }
    expect(planAddresses('127.0.0.2', -1)).toMatchObject({ ok: false, code: 'BAD_INPUT' });
    expect(planAddresses('127.0.0.2', 1.5)).toMatchObject({ ok: false, code: 'BAD_INPUT' });
    expect(deviceAddress('255.255.255.255', 2, 'netns')).toMatchObject({ ok: false, code: 'BAD_INPUT' });
  });

  it('parses strictly and knows the loopback block', () => {
    expect(parseIpv4('127.77.0.1')).toBe(0x7f4d0001);
    expect(isLoopback('127.1.2.3')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
  });
});
