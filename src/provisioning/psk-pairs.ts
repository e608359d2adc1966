/**
 * The reference provisioning server's TLS-PSK credentials (seed 002: "A list of valid TLS-PSK
 * keys that match what is installed on the Intel vPro PCs awaiting configuration"). A PSK hello
 * (reference §1.2, version 2) names the device's PID; the server looks the PPS up here and opens
 * TLS-PSK to 16993 with identity = PID, key = PPS (derivation: src/device/psk.ts).
 */
import { AmtError } from '../common/errors.js';
import { canonicalPskText, PSK_CIPHERS, pskIdentityFromPid, pskKeyFromPps } from '../device/psk.js';

export interface PskPair {
  /** 8 characters A–Z/0–9, a dash after the fourth allowed (XXXX-XXXX). */
  pid: string;
  /** 32 characters A–Z/0–9 in groups of four, dashes allowed. */
  pps: string;
}

const PID = /^[A-Z0-9]{8}$/;
const PPS = /^[A-Z0-9]{32}$/;

/** Validate a configured pair (config file, API body): a bad one is BAD_INPUT naming the field. */
export function checkPskPair(p: PskPair, where = 'psk pair'): PskPair {
  const pid = canonicalPskText(p.pid);
  const pps = canonicalPskText(p.pps);
  if (!PID.test(pid)) throw new AmtError('BAD_INPUT', `${where}: PID must be 8 letters/digits (XXXX-XXXX), got '${p.pid}'`);
  if (!PPS.test(pps)) throw new AmtError('BAD_INPUT', `${where}: PPS must be 32 letters/digits in groups of four`);
  return { pid, pps };
}

export function findPskPair(pairs: readonly PskPair[], pid: string): PskPair | undefined {
  const want = canonicalPskText(pid);
  return pairs.find((p) => canonicalPskText(p.pid) === want);
}

/** WsmanClient TLS options for a TLS-PSK session (TLS 1.0 first: PSK firmware is AMT 3–10). */
export function pskClientTls(pair: PskPair): { psk: { identity: string; key: Buffer }; ciphers: string; minVersion: 'TLSv1' } {
  return {
    psk: { identity: pskIdentityFromPid(pair.pid), key: pskKeyFromPps(pair.pps) },
    // AMT 3/6 speak TLS 1.0/1.1 only, which OpenSSL 3 refuses above security level 0.
    ciphers: `${PSK_CIPHERS}:@SECLEVEL=0`,
    minVersion: 'TLSv1',
  };
}
