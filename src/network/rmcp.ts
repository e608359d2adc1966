/**
 * RMCP / ASF presence ping on UDP 623 (reference §6.4). Discovery tools (MeshCentral's
 * amtscanner, `rmcpping`) send an ASF Presence Ping; the ME answers with a Presence Pong whose
 * OEM-defined bytes carry the AMT port, version and provisioning state.
 *
 * Pong layout (28 bytes), with the source of each byte:
 *   0–3   RMCP header: version 0x06, reserved 0x00, sequence 0xFF (no RMCP ACK), class 0x06 (ASF)
 *   4–7   ASF IANA 0x000011BE (4542), big-endian                               [ASF 2.0]
 *   8     message type 0x40 Presence Pong                                       [ASF 2.0]
 *   9     message tag, copied from the ping                                     [ASF 2.0; MC reads it]
 *   10    reserved 0x00; 11 data length 0x10                                    [ASF 2.0]
 *   12–15 IANA enterprise number 0x00000157 (343 = Intel)                      [ASF 2.0 "OEM IANA"]
 *   16–17 open AMT port, big-endian: 16993 when TLS, else 16992                 [MC parseRmcpPacket]
 *   18    AMT major (high nibble) / minor (low nibble) from NVRAM firmware.version [MC]
 *   19    bits 0–1 provisioning state 0 Pre / 1 In / 2 Post, bit 2 both ports   [MC]
 *   20    supported entities 0x01 (ASF 1.0, no IPMI)                            [ASF 2.0]
 *   21    supported interactions 0x20 (bit 5, "DASH supported"); MC requires bit 0x20 [ASF 2.0, MC]
 *   22–27 reserved zeros                                                        [ASF 2.0]
 * The exact firmware layout is [UNKNOWN] in the reference; the bytes MeshCentral reads are exact.
 * Version nibbles only hold 0–15: for AMT 16+ byte 18 is 0, which MeshCentral's scanner reads as
 * "version not reported" (its comment: "Older versions of Intel AMT report the AMT version").
 *
 * Sockets: node:dgram does not expose a datagram's destination address (no IP_PKTINFO), and a
 * reply must leave from the device's own address (scanners key results on the source address),
 * so the responder binds one UDP socket per device address. That costs one fd per device: a
 * 10,000-device fleet holds 10,000 UDP fds on top of the shared TCP listeners, within the
 * 20,000 fd limit (DESIGN.md); fleets that do not need discovery can leave RMCP off.
 */
import dgram from 'node:dgram';
import type { Result } from '../common/errors.js';
import type { NvramImage, ProvisioningState } from '../nvram/image.js';
import { PROVISIONING_STATE_NUMBER } from '../nvram/image.js';
import type { FirmwareProfile } from '../nvram/profile-types.js';

export const RMCP_PORT = 623;
const ASF_IANA = 0x000011be;
const INTEL_IANA = 343;
const PRESENCE_PING = 0x80;
const PRESENCE_PONG = 0x40;
export const PONG_LENGTH = 28;

/** Parse an ASF Presence Ping (`06 00 xx 06 00 00 11 BE 80 <tag> 00 00`); undefined for anything else. */
export function parsePresencePing(b: Buffer): { tag: number; sequence: number } | undefined {
  if (b.length < 12 || b.length > 64) return undefined;
  if (b[0] !== 0x06 || b[3] !== 0x06) return undefined;
  if (b.readUInt32BE(4) !== ASF_IANA || b[8] !== PRESENCE_PING) return undefined;
  return { tag: b[9]!, sequence: b[2]! };
}

export interface PongFields {
  tag: number;
  state: ProvisioningState;
  amtMajor: number;
  amtMinor: number;
  openPort: number;
  dualPorts: boolean;
}

export function encodePresencePong(f: PongFields): Buffer {
  const b = Buffer.alloc(PONG_LENGTH);
  b[0] = 0x06;
  b[1] = 0x00;
  b[2] = 0xff;
  b[3] = 0x06;
  b.writeUInt32BE(ASF_IANA, 4);
  b[8] = PRESENCE_PONG;
  b[9] = f.tag & 0xff;
  b[11] = 0x10;
  b.writeUInt32BE(INTEL_IANA, 12);
  b.writeUInt16BE(f.openPort, 16);
  b[18] = f.amtMajor >= 1 && f.amtMajor <= 15 ? (f.amtMajor << 4) | Math.min(Math.max(f.amtMinor, 0), 15) : 0;
  b[19] = PROVISIONING_STATE_NUMBER[f.state] | (f.dualPorts ? 0x04 : 0);
  b[20] = 0x01;
  b[21] = 0x20;
  return b;
}

/** What the pong needs from a device (AmtDevice satisfies it). */
export interface RmcpDevice {
  readonly id: string;
  readonly nvram: Readonly<NvramImage>;
  readonly profile: FirmwareProfile;
  readonly state: ProvisioningState;
  readonly address: string | undefined;
  portOpen(port: number, origin: 'local' | 'remote'): boolean;
  record(type: string, data?: Record<string, unknown>, code?: string): unknown;
}

/**
 * The device's pong fields. Port: once configured, 16993 if remote TLS is on (both ports if it
 * still accepts non-TLS, §6.1 AcceptNonSecureConnections), else 16992; before configuration,
 * the port a console would use by profile (16992 unless the firmware dropped non-TLS remote ports).
 */
export function pongFieldsFor(d: RmcpDevice, tag: number): PongFields {
  const [major, minor] = d.nvram.firmware.version.split('.').map((x) => Number.parseInt(x, 10));
  const plainAllowed = d.profile.network.nonTlsRemotePorts;
  let openPort = plainAllowed ? 16992 : 16993;
  let dualPorts = false;
  if (d.state === 'Post') {
    const tls = d.nvram.tls.remote;
    openPort = tls.enabled ? 16993 : 16992;
    dualPorts = tls.enabled && tls.acceptNonSecureConnections && plainAllowed;
  }
  return {
    tag,
    state: d.state,
    amtMajor: Number.isFinite(major) ? major! : d.profile.amtMajor,
    amtMinor: Number.isFinite(minor) ? minor! : 0,
    openPort,
    dualPorts,
  };
}

export interface RmcpResponderOptions {
  /** UDP port to bind on each device address (623; tests use a free high port). */
  port?: number;
  /** The device that owns an address, if any. */
  deviceAt(address: string): RmcpDevice | undefined;
  /** Timeline event per pong (off for very chatty scanners). */
  recordPongs?: boolean;
}

export type RmcpBindCode = 'RMCP_BIND_FAILED';

export class RmcpResponder {
  private readonly sockets = new Map<string, dgram.Socket>();
  private readonly port: number;
  readonly stats = { pings: 0, pongs: 0, ignored: 0, refused: 0 };

  constructor(private readonly opts: RmcpResponderOptions) {
    this.port = opts.port ?? RMCP_PORT;
  }

  /** The UDP port bound on every device address. */
  get udpPort(): number {
    return this.port;
  }

  get socketCount(): number {
    return this.sockets.size;
  }

  /** Start answering on one device address. */
  open(address: string): Promise<Result<void, RmcpBindCode>> {
    if (this.sockets.has(address)) return Promise.resolve({ ok: true, value: undefined });
    return new Promise((resolve) => {
      const s = dgram.createSocket({ type: 'udp4' });
      const fail = (e: Error): void => {
        s.close();
        resolve({ ok: false, code: 'RMCP_BIND_FAILED', message: `cannot bind UDP ${address}:${this.port}: ${e.message}` });
      };
      s.once('error', fail);
      s.bind(this.port, address, () => {
        s.off('error', fail);
        // After binding, a socket error (ICMP unreachable on send) must never crash the fleet.
        s.on('error', () => undefined);
        s.on('message', (msg, rinfo) => this.onMessage(s, address, msg, rinfo));
        this.sockets.set(address, s);
        resolve({ ok: true, value: undefined });
      });
    });
  }

  async close(address: string): Promise<void> {
    const s = this.sockets.get(address);
    if (!s) return;
    this.sockets.delete(address);
    await new Promise<void>((r) => s.close(() => r()));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sockets.keys()].map((a) => this.close(a)));
  }

  private onMessage(s: dgram.Socket, address: string, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const ping = parsePresencePing(msg);
    if (!ping) {
      this.stats.ignored++;
      return;
    }
    this.stats.pings++;
    const d = this.opts.deviceAt(address);
    if (!d) {
      this.stats.ignored++;
      return;
    }
    const origin = rinfo.address === (d.address ?? address) ? 'local' : 'remote';
    if (!d.portOpen(RMCP_PORT, origin)) {
      this.stats.refused++;
      return; // a filtered port: the scanner sees silence, as from real firmware
    }
    const f = pongFieldsFor(d, ping.tag);
    s.send(encodePresencePong(f), rinfo.port, rinfo.address);
    this.stats.pongs++;
    if (this.opts.recordPongs !== false) {
      d.record('rmcp.pong', { to: `${rinfo.address}:${rinfo.port}`, tag: ping.tag, state: f.state, openPort: f.openPort, dualPorts: f.dualPorts });
    }
  }
}
