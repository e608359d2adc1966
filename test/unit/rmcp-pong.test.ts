import { describe, expect, it } from 'vitest';
import { encodePresencePong, parsePresencePing, pongFieldsFor, PONG_LENGTH } from '../../src/network/rmcp.js';
import type { FirmwareProfileId, ProvisioningState } from '../../src/nvram/image.js';
import { makeDevice } from '../helpers/device-fixture.js';

function device(profile: FirmwareProfileId, state: ProvisioningState, tls?: { enabled: boolean; acceptNonSecureConnections: boolean }) {
  return makeDevice({
    deviceId: `rmcp-${profile}-${state}`,
    profile,
    image: (img) => {
      img.provisioning.state = state;
      if (state === 'Post') img.provisioning.controlMode = 'CCM';
      if (tls) img.tls.remote = { ...img.tls.remote, ...tls };
    },
  }).device;
}

describe('RMCP presence ping parser', () => {
  it('accepts MeshCentral\'s ping and reads the tag at byte 9', () => {
    expect(parsePresencePing(Buffer.from('06000006000011be80070000', 'hex'))).toEqual({ tag: 7, sequence: 0 });
    expect(parsePresencePing(Buffer.from('0600ff06000011be80fe0000', 'hex'))).toEqual({ tag: 0xfe, sequence: 0xff });
  });

  it('ignores garbage: short, wrong class, wrong IANA, not a ping, oversized', () => {
    for (const hex of ['', '06', '06000007000011be80070000', '06000006000011bf80070000', '06000006000011be40070000']) {
      expect(parsePresencePing(Buffer.from(hex, 'hex'))).toBeUndefined();
    }
    expect(parsePresencePing(Buffer.alloc(1500, 6))).toBeUndefined();
  });
});

describe('RMCP presence pong bytes', () => {
  it('has the ASF header, Intel IANA and MeshCentral bit 0x20 at byte 21', () => {
    const b = encodePresencePong({ tag: 9, state: 'Pre', amtMajor: 11, amtMinor: 8, openPort: 16992, dualPorts: false });
    expect(b.length).toBe(PONG_LENGTH);
    expect(b.subarray(0, 12).toString('hex')).toBe('0600ff06000011be40090010');
    expect(b.readUInt32BE(12)).toBe(343);
    expect(b[21]! & 0x20).toBe(0x20);
  });

  it.each([
    ['amt11', 'Pre', 0x00, 16992, 0xb8],
    ['amt11', 'In', 0x01, 16992, 0xb8],
    ['amt6', 'Pre', 0x00, 16992, 0x62],
    ['amt12', 'In', 0x01, 16992, 0xc0],
    ['amt16', 'Pre', 0x00, 16993, 0x00],
    ['amt19', 'In', 0x01, 16993, 0x00],
  ] as const)('%s in %s: state bits %i, port %i, version byte 0x%s', (profile, state, stateBits, port, version) => {
    const d = device(profile, state);
    const b = encodePresencePong(pongFieldsFor(d, 3));
    expect(b[9]).toBe(3);
    expect(b[19]).toBe(stateBits);
    expect(b.readUInt16BE(16)).toBe(port);
    expect(b[18]).toBe(version);
  });

  it('Post: TLS-only reports 16993, TLS with non-secure allowed reports both ports, no TLS reports 16992', () => {
    const tlsOnly = encodePresencePong(pongFieldsFor(device('amt11', 'Post', { enabled: true, acceptNonSecureConnections: false }), 1));
    expect(tlsOnly.readUInt16BE(16)).toBe(16993);
    expect(tlsOnly[19]).toBe(0x02);
    const dual = encodePresencePong(pongFieldsFor(device('amt11', 'Post', { enabled: true, acceptNonSecureConnections: true }), 1));
    expect(dual[19]).toBe(0x06);
    const plain = encodePresencePong(pongFieldsFor(device('amt11', 'Post', { enabled: false, acceptNonSecureConnections: true }), 1));
    expect(plain.readUInt16BE(16)).toBe(16992);
    expect(plain[19]).toBe(0x02);
    // CSME 16.1+ has no non-TLS remote ports: never "dual".
    const amt16 = encodePresencePong(pongFieldsFor(device('amt16', 'Post', { enabled: true, acceptNonSecureConnections: true }), 1));
    expect(amt16[19]).toBe(0x02);
  });
});
