/**
 * The scenario format as TypeScript types. They mirror schemas/scenario.schema.json one to one:
 * the schema is what editors and the loader check, these types are what the runner and API
 * users write. Durations are strings ("90s", "6h", "1d 2h") or milliseconds.
 */
import type { DurationInput } from './duration.js';

export type DeviceStateName = 'factory' | 'setup' | 'configured';
export type DeviceRef = string | string[];

export interface DhcpSpec {
  /** DHCP option 15. Absent: leases carry no domain (DHCP_NO_DOMAIN). */
  domain?: string;
  /** Option 15 missing from the first N ACKs to each device. */
  lateDomain?: number;
  drop?: boolean | Array<'DISCOVER' | 'REQUEST'>;
  nak?: boolean;
  delay?: DurationInput;
}

export type DnsFailureSpec = 'nxdomain' | 'servfail' | 'drop' | { delay: DurationInput };

export interface DnsRecordSpec {
  name: string;
  type: 'A' | 'AAAA' | 'PTR' | 'CNAME';
  /** Address or name; "provisioningServer" = the scenario's provisioning server address. */
  value: string;
  ttl?: number;
}

/**
 * kernel (default): DHCP, DNS and hellos on real loopback sockets. memory: the same firmware
 * client, fake servers and packets on an in-process LAN (src/network/memory-lan.ts), for
 * discovery runs at fleet scale; WS-Man stays on real sockets either way.
 */
export type NetworkTransport = 'kernel' | 'memory';

export interface NetworkSpec {
  transport?: NetworkTransport;
  dhcp?: DhcpSpec;
  dns?: {
    provisionServerRecord?: boolean;
    records?: DnsRecordSpec[];
    failures?: Record<string, DnsFailureSpec>;
  };
}

export type CertificateVariant =
  | 'valid' | 'ou' | 'wildcard' | 'expired' | 'notYetValid' | 'wrongOu' | 'noOid' | 'notServerAuth' | 'wrongCn'
  | 'sha1Signature' | 'weakKey' | 'badSignature' | 'untrustedRoot' | 'missingIntermediate' | 'noRoot';

export type ProvisioningServerSpec =
  | 'sink'
  | 'down'
  | { reference: ReferenceServerSpec }
  | { external: { address: string; port?: number } };

/** A TLS-PSK pair (seed 002): PID XXXX-XXXX, PPS 32 letters/digits in groups of four. */
export interface PskPairSpec {
  pid: string;
  pps: string;
}

export interface ReferenceServerSpec {
  certificate?: CertificateVariant;
  fqdn?: string;
  adminPassword?: string;
  mebxPassword?: string;
  tls?: boolean;
  /** TLS-PSK pairs the server knows; without any it refuses PSK hellos (PSK_NOT_SUPPORTED). */
  pskPairs?: PskPairSpec[];
}

export interface HashEntrySpec {
  name: string;
  algorithm?: 'SHA1' | 'SHA256' | 'SHA384';
  hash?: string;
  root?: 'reference';
  active?: boolean;
}

export interface DeviceSpecYaml {
  id: string;
  count?: number;
  profile?: 'amt3' | 'amt6' | 'amt11' | 'amt12' | 'amt15' | 'amt16' | 'amt19';
  state?: DeviceStateName;
  adminPassword?: string;
  uuid?: string;
  mode?: 'Enterprise' | 'SMB';
  trigger?: 'talk' | 'listen';
  remoteConfigTimerHours?: number;
  pkiDnsSuffix?: string;
  domain?: string;
  mebxPassword?: string;
  wiredLan?: boolean;
  provisioningServer?: { address?: string; fqdn?: string; port?: number };
  hashes?: { add?: HashEntrySpec[]; deactivate?: string[]; remove?: string[] };
  /** TLS-PSK PID/PPS in NVRAM (profiles with TLS-PSK; others refuse them at run time, PSK_NOT_SUPPORTED). */
  pid?: string;
  pps?: string;
  /** Trusted home domains for environment detection (seed 004). */
  homeDomains?: string[];
}

export type CountBound = number | { min?: number; max?: number };

export interface EventExpectation {
  type: string;
  count?: number;
  min?: number;
  max?: number;
  code?: string;
  data?: Record<string, unknown>;
  /** "start" (default), "step", or a mark name. */
  since?: string;
  within?: DurationInput;
}

export interface ExpectSpec {
  device?: DeviceRef;
  state?: DeviceStateName;
  controlMode?: 'none' | 'CCM' | 'ACM';
  window?: 'closed' | 'bareMetal' | 'agent';
  powered?: boolean;
  hellos?: CountBound;
  events?: EventExpectation[];
  noEvents?: string[];
  audit?: Record<string, unknown> | null;
  nvram?: {
    pkiDnsSuffix?: string;
    mebxPasswordChanged?: boolean;
    customHashes?: number;
    activeHashes?: CountBound;
    bareMetalUsed?: boolean;
    /** The admin digest account accepts this password. */
    adminPassword?: string;
    /** Mode SMB or Enterprise. */
    mode?: 'Enterprise' | 'SMB';
    /** A PID in NVRAM (true/false), or the PID itself (XXXX-XXXX or without the dash). */
    pid?: boolean | string;
  };
  ports?: { open?: number[]; closed?: number[]; origin?: 'remote' | 'local' };
  server?: { hellos?: CountBound; status?: 'in-progress' | 'configured' | 'failed'; code?: string };
  within?: DurationInput;
}

export type HostCommandName = 'startConfiguration' | 'startConfigurationEx' | 'stopConfiguration';

export type AgentSpec =
  | HostCommandName
  | 'run'
  | 'stop'
  | {
      extendProvisioningPeriod?: number;
      setOtp?: string;
      setPkiDnsSuffix?: string;
      command?: HostCommandName;
      run?: { useEx?: boolean; maxRestarts?: number; restartDelay?: DurationInput };
      /** Expected PTHI status name (default SUCCESS). */
      status?: string;
    };

export type FaultEffectName = 'delay' | 'drop' | 'reset' | 'hang' | 'empty' | 'fail';

export interface FaultRuleSpec {
  name?: string;
  port?: number;
  action?: string;
  effect: FaultEffectName;
  delay?: DurationInput;
  firstN?: number;
  probability?: number;
  /** With effect fail: the ReturnValue answered instead of running the method. */
  returnValue?: number;
}

export interface FaultSpec {
  dhcp?: 'reset' | DhcpSpec;
  dns?: Record<string, DnsFailureSpec | 'ok'>;
  clockJump?: DurationInput;
  provisioningServer?: 'down' | 'up';
  rule?: FaultRuleSpec;
  clearRules?: boolean;
}

/** `usbSetup: file` or `usbSetup: {file, expectCode}`: boot with a USB key holding setup.bin. */
export type UsbSetupSpec = string | { file: string; expectCode?: string };

/**
 * `mebx: {op, password, <the op's parameters>, expectCode}` (src/device/mebx-ops.ts names them).
 * Parameters sit beside op and password: `{op: password, password: admin, newPassword: …}`.
 */
export interface MebxStepSpec {
  op: string;
  password: string;
  expectCode?: string;
  [param: string]: unknown;
}

export type WsmanScalar = string | number | boolean;

/**
 * `wsman: {get | enumerate | put | invoke, …}`: a management console's call to the step's
 * device over its real WS-Man listener (src/scenario/wsman-step.ts).
 */
export interface WsmanStepSpec {
  get?: string;
  enumerate?: string;
  /** Read the instance, change these properties, write it back. */
  put?: { class: string; properties: Record<string, WsmanScalar> };
  invoke?: { class: string; method: string; input?: Record<string, unknown> };
  /** One selector for the ResourceURI (e.g. {Name: …}). */
  selectors?: Record<string, string>;
  user?: string;
  password?: string;
  /** 16993 instead of 16992 (default: 16993 when the profile does not answer 16992 remotely). */
  tls?: boolean;
  expect?: { returnValue?: number; count?: number; properties?: Record<string, WsmanScalar> };
  /** The call must fail with this code (WSMAN_FAULT, WSMAN_AUTH_FAILED, WSMAN_CONNECT_FAILED, …). */
  expectCode?: string;
}

export interface StepSpec {
  device?: DeviceRef;
  power?: 'on' | 'off' | 'loss';
  link?: 'up' | 'down';
  advance?: DurationInput;
  agent?: AgentSpec;
  /** tls (ACM only): secure host-based ACM over the local 16993 (reference §5.4). */
  remote?: { hostBased?: 'CCM' | 'ACM'; password?: string; tls?: boolean };
  unprovision?: 'partial' | 'full';
  mebxPassword?: string;
  usbSetup?: UsbSetupSpec;
  mebx?: MebxStepSpec;
  wsman?: WsmanStepSpec;
  fault?: FaultSpec;
  expect?: ExpectSpec;
  mark?: string;
  note?: string;
}

export const STEP_ACTIONS = ['power', 'link', 'advance', 'agent', 'remote', 'unprovision', 'mebxPassword', 'usbSetup', 'mebx', 'wsman', 'fault', 'expect', 'mark', 'note'] as const;
export type StepKind = (typeof STEP_ACTIONS)[number];

export interface Scenario {
  name: string;
  description?: string;
  tags?: string[];
  time?: 'virtual' | { scaled: number };
  seed?: string;
  /** Timeline events kept (oldest tenth dropped when full); reports hold what is kept. */
  timeline?: { capacity?: number };
  network?: NetworkSpec;
  provisioningServer?: ProvisioningServerSpec;
  devices?: DeviceSpecYaml[];
  steps: StepSpec[];
}

/** Where something is in a scenario file (1-based, as editors show). */
export interface SourcePos {
  line: number;
  column: number;
}

export interface LoadedScenario {
  /** File path as given, or "<inline>" for an object. */
  file: string;
  scenario: Scenario;
  /** Position of each step (same index as scenario.steps); absent for inline objects. */
  stepPos: Array<SourcePos | undefined>;
  /** Directory that relative paths in steps (usbSetup files) are resolved against. */
  baseDir?: string;
}
