/**
 * The contract between the WS-Man dispatcher and the class handlers: each CIM class family is a
 * small handler over device NVRAM (DESIGN.md "WS-Man classes as small handlers over NVRAM").
 */
import type { AmtDevice, Origin } from '../device.js';
import type { TlsSettings } from '../../nvram/image.js';
import { HostBasedCertChain } from '../../pki/signature.js';
import type { Epr, Instance, PropValue } from './envelope.js';
import type { WsmanFault } from './faults.js';
import type { XmlObject } from './request.js';

export const AMT_URI = 'http://intel.com/wbem/wscim/1/amt-schema/1/';
export const IPS_URI = 'http://intel.com/wbem/wscim/1/ips-schema/1/';
export const CIM_URI = 'http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/';

export function uriOf(className: string): string {
  if (className.startsWith('AMT_')) return AMT_URI + className;
  if (className.startsWith('IPS_')) return IPS_URI + className;
  return CIM_URI + className;
}

/** Who the HTTP layer authenticated. */
export type Account =
  /** The AMT admin account (digest against adminAcl.digestHash). */
  | 'admin'
  /** The local system account ($$OsAdmin) from the host OS (reference §5.1). */
  | 'lsa'
  /** A remote-configuration session authorised by the PKI-CH client certificate (§1.3 step 4). */
  | 'pki';

export interface ConnectionInfo {
  port: number;
  origin: Origin;
  peerAddress: string;
  tls: boolean;
  /**
   * Set for one request by a fault rule (`fail`): a method call answers this ReturnValue without
   * running, as flaky firmware does (AdminSetup failing once, key-pair generation needing retries).
   */
  injectReturnValue?: number;
  /**
   * Set by the firmware while handling this request: end the connection instead of answering.
   * CommitChanges on the secure host-based session restarts the local port stack "while the HTTP
   * response is still in flight" (reference §5.4, rpc-go commitActivation), so the client sees EOF.
   */
  dropAfter?: string;
}

/** WS-Man state the firmware keeps in RAM, not NVRAM: lost on power loss. */
export class WsmanDeviceState {
  messageCounter = 0;
  nextContext = 0x10;
  readonly enumerations = new Map<string, { resourceUri: string; items: Instance[] }>();
  readonly certChain = new HostBasedCertChain();
  /** AMT_TLSSettingData Puts wait for CommitChanges (reference §6.1, SDK detaileddescription21). */
  pendingTls: { remote?: TlsSettings; local?: TlsSettings } = {};

  nextMessageId(): string {
    this.messageCounter = (this.messageCounter + 1) % 0x1000000000000;
    return `uuid:00000000-8086-8086-8086-${this.messageCounter.toString(16).toUpperCase().padStart(12, '0')}`;
  }
}

export interface WsmanContext {
  device: AmtDevice;
  account: Account;
  conn: ConnectionInfo;
  state: WsmanDeviceState;
}

export interface MethodResult {
  returnValue: number;
  /** Output parameters after ReturnValue, in order. */
  out?: Record<string, PropValue>;
}

export type MethodInput = Record<string, string | string[]>;
export type MethodHandler = (ctx: WsmanContext, input: MethodInput, raw: XmlObject) => MethodResult | WsmanFault | Promise<MethodResult | WsmanFault>;

export interface WsmanClass {
  className: string;
  /** Single instance: Get ignores selectors. Otherwise Get needs selectors that match. */
  get?(ctx: WsmanContext, selectors: Record<string, string>): Instance | WsmanFault;
  enumerate?(ctx: WsmanContext): Instance[];
  put?(ctx: WsmanContext, selectors: Record<string, string>, props: MethodInput): Instance | WsmanFault;
  create?(ctx: WsmanContext, props: MethodInput, raw: XmlObject): Record<string, string | Epr> | WsmanFault;
  delete?(ctx: WsmanContext, selectors: Record<string, string>): WsmanFault | undefined;
  methods?: Record<string, MethodHandler>;
}

/** First string of a method input parameter. */
export function param(input: MethodInput, name: string): string | undefined {
  const v = input[name];
  return Array.isArray(v) ? v[0] : v;
}

export function instance(className: string, props: Record<string, PropValue>): Instance {
  return { className, resourceUri: uriOf(className), props };
}

/** Pick the instance whose selector values all match (case-sensitive like AMT's InstanceID). */
export function selectInstance(list: Instance[], selectors: Record<string, string>): Instance | undefined {
  const keys = Object.keys(selectors);
  if (keys.length === 0) return list.length === 1 ? list[0] : undefined;
  return list.find((i) => keys.every((k) => i.props[k] !== undefined && String(i.props[k]) === selectors[k]));
}

export function boolText(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  const t = v.trim().toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  return undefined;
}
