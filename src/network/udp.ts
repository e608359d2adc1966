/**
 * The datagram socket surface the network code uses, so the same DHCP client, stub resolver and
 * fake servers can run on the kernel's UDP (node:dgram) or on an in-process LAN (memory-lan.ts)
 * for discovery simulations at fleet scale. Only what the callers need, with node:dgram's
 * signatures: a dgram.Socket is one as it is.
 */
import dgram from 'node:dgram';

export interface UdpPeer {
  address: string;
  port: number;
}

export interface UdpSocket {
  bind(port: number, address: string | undefined, callback: () => void): unknown;
  send(msg: Buffer, port: number, address: string, callback?: (error: Error | null) => void): void;
  on(event: 'message', listener: (msg: Buffer, rinfo: UdpPeer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'error', listener: (err: Error) => void): unknown;
  close(callback?: () => void): unknown;
  address(): UdpPeer;
  setBroadcast(flag: boolean): void;
}

export interface UdpSocketOptions {
  reuseAddr?: boolean;
  recvBufferSize?: number;
}

export type UdpFactory = (options?: UdpSocketOptions) => UdpSocket;

/** The kernel's UDP. */
export const kernelUdp: UdpFactory = (options = {}) => dgram.createSocket({ type: 'udp4', ...options });
