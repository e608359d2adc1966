/**
 * The `wsman:` scenario step: what a management console does to a configured PC — Get,
 * Enumerate, Put (read, change the named properties, write back, as MeshCentral does) or a
 * method call — over the device's real 16992/16993 listener with Digest auth, from a console
 * address on the run's LAN (a remote connection). Request XML is built by
 * @device-management-toolkit/wsman-messages' WSManMessageCreator, the client is the reference
 * server's WsmanClient, so the device sees exactly what real consoles send.
 *
 * `{{consentCode}}` in a string value is the user-consent code the PC's screen shows (what the
 * user would read out to the operator, docs/reference-user-consent.md).
 */
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { peekUserConsent } from '../device/user-consent.js';
import type { AmtDevice } from '../device/device.js';
import { WsmanClient, xmlEscape } from '../provisioning/wsman-client.js';
import { instanceFields, WsmanError, type XmlValue } from '../provisioning/wsman-xml.js';
import type { WsmanScalar, WsmanStepSpec } from './types.js';
import type { World } from './world.js';

type MessageCreator = AMT.Messages['GeneralSettings']['wsmanMessageCreator'];
/**
 * One wsman-messages envelope builder per namespace (DMTF CIM, Intel AMT, Intel IPS): its
 * methods take the class name, so any class of the namespace is built by the same creator. The
 * package exports the creator only through its class builders, hence the borrowed instance.
 */
const CREATORS: Record<string, () => MessageCreator> = {
  CIM_: () => new CIM.Messages().SoftwareIdentity.wsmanMessageCreator,
  AMT_: () => new AMT.Messages().GeneralSettings.wsmanMessageCreator,
  IPS_: () => new IPS.Messages().OptInService.wsmanMessageCreator,
};
/** A WS-Man class name as AMT names them. */
export const WSMAN_CLASS_PATTERN = '^(CIM|AMT|IPS)_[A-Za-z0-9]+$';
const ACTIONS = {
  get: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Get',
  put: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/Put',
  enumerate: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate',
  pull: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull',
} as const;
const CONSENT_PLACEHOLDER = '{{consentCode}}';
/** A console's wait for one call; the device answers at once unless a fault rule says otherwise. */
const CALL_TIMEOUT_MS = 20_000;

type WsmanClassName = CIM.Classes | AMT.Classes | IPS.Classes;
export type WsmanOperation = 'get' | 'enumerate' | 'put' | 'invoke';

export function operationOf(w: WsmanStepSpec): WsmanOperation | undefined {
  const ops = (['get', 'enumerate', 'put', 'invoke'] as const).filter((k) => w[k] !== undefined);
  return ops.length === 1 ? ops[0] : undefined;
}

export function classOf(w: WsmanStepSpec): string {
  return w.get ?? w.enumerate ?? w.put?.class ?? w.invoke?.class ?? '';
}

function creatorFor(className: string): MessageCreator {
  const make = CREATORS[className.slice(0, 4)];
  if (!make) throw new WsmanError('WSMAN_BAD_RESPONSE', `${className}: not a CIM_, AMT_ or IPS_ class`);
  return make();
}

/**
 * Replace `{{consentCode}}` in string values (deeply) by the code on the device's screen, and
 * XML-escape every string: wsman-messages puts values into the envelope as given.
 */
function forWire<T>(value: T, device: AmtDevice): T {
  return escapeStrings(withConsentCode(value, device));
}

/**
 * `{epr: CIM_ComputerSystem, selectors: {Name: ManagedSystem}}` in an input is an endpoint
 * reference (e.g. RequestPowerStateChange's ManagedElement): expanded into the Address /
 * ReferenceParameters / SelectorSet shape wsman-messages writes with the WS-Addressing and
 * WS-Man namespaces, the way its own RequestPowerStateChange builder spells it.
 */
function expandEprs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandEprs);
  if (!value || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  if (typeof o['epr'] === 'string' && keys.every((k) => k === 'epr' || k === 'selectors')) {
    const className = o['epr'];
    const selectors = Object.entries((o['selectors'] ?? {}) as Record<string, unknown>).map(([name, v]) => ({ _: String(v), $: { Name: name } }));
    return {
      Address: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
      ReferenceParameters: { ResourceURI: `${creatorFor(className).resourceUriBase}${className}`, ...(selectors.length ? { SelectorSet: { Selector: selectors } } : {}) },
    };
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, expandEprs(v)]));
}

/** Apply `f` to every string in a YAML value (objects and lists walked, other scalars kept). */
function mapStrings<T>(value: T, f: (s: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return f(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function escapeStrings<T>(value: T): T {
  return mapStrings(value, xmlEscape);
}

/** Replace `{{consentCode}}` in string values (deeply) by the code on the device's screen. */
function withConsentCode<T>(value: T, device: AmtDevice): T {
  const code = (): string => {
    const c = peekUserConsent(device).code;
    if (!c) throw new WsmanError('WSMAN_BAD_RESPONSE', `${device.id}: no user consent code on the screen (StartOptIn first)`);
    return c;
  };
  return mapStrings(value, (v) => (v.includes(CONSENT_PLACEHOLDER) ? v.split(CONSENT_PLACEHOLDER).join(code()) : v));
}

interface CallResult {
  returnValue?: number;
  properties: Record<string, string>;
  count?: number;
}

async function call(client: WsmanClient, w: WsmanStepSpec, device: AmtDevice): Promise<CallResult> {
  const op = operationOf(w)!;
  const className = classOf(w) as WsmanClassName;
  const m = creatorFor(className);
  // One selector (the schema says so): wsman-messages writes a {name, value} selector correctly.
  const selector = Object.entries(w.selectors ?? {})[0];
  const header = (action: string): string => m.createHeader(action, className, selector ? { name: selector[0], value: xmlEscape(selector[1]) } : null);
  switch (op) {
    case 'get':
      return { properties: await client.get(m.createXml(header(ACTIONS.get), m.createCommonBody.Get()), className) };
    case 'enumerate': {
      const items = await client.enumerate(m.createXml(header(ACTIONS.enumerate), m.createCommonBody.Enumerate()), (ctx) => m.createXml(header(ACTIONS.pull), m.createCommonBody.Pull(ctx)), className);
      return { properties: items[0] ?? {}, count: items.length };
    }
    case 'put': {
      // Read, change, write back: AMT's Put replaces the instance (consoles send it whole).
      const current = await client.get(m.createXml(header(ACTIONS.get), m.createCommonBody.Get()), className);
      const changed: Record<string, string | number | boolean> = { ...escapeStrings(current), ...forWire(w.put!.properties, device) };
      const env = await client.send(m.createXml(header(ACTIONS.put), m.createCommonBody.CreateOrPut(className, changed)));
      return { properties: instanceFields(env.body[className]) };
    }
    case 'invoke': {
      const { method, input } = w.invoke!;
      const xml = m.createXml(header(`${m.resourceUriBase}${className}/${method}`), m.createBody(`${method}_INPUT`, className, expandEprs(forWire(input ?? {}, device))));
      const r = await client.invoke(xml, method);
      return { returnValue: r.returnValue, properties: outputFields(r.output) };
    }
  }
}

function outputFields(out: Record<string, XmlValue>): Record<string, string> {
  const fields = instanceFields(out);
  delete fields['ReturnValue'];
  return fields;
}

function same(expected: WsmanScalar, actual: string | undefined): boolean {
  return actual !== undefined && String(expected) === actual;
}

/** Run the step for one device; `ok` says whether what happened is what the step expects. */
export async function runWsmanStep(w: WsmanStepSpec, device: AmtDevice, world: World, defaults: { password: string }): Promise<{ ok: boolean; message: string }> {
  const ports = world.listeners?.ports;
  const address = device.address ?? world.emu.plannedAddress(device.id);
  if (!ports?.http || !ports.https || !address) return { ok: false, message: `${device.id}: wsman needs the device's WS-Man listeners and an address (power it on first)` };
  // A profile that does not answer plain 16992 remotely (AMT 16.1+, reference §6.1) is reached on 16993.
  const tls = w.tls ?? !device.portOpen(16992, 'remote');
  const client = new WsmanClient({
    host: address,
    port: tls ? ports.https : ports.http,
    username: w.user ?? 'admin',
    password: w.password ?? defaults.password,
    ...(tls ? { tls: {} } : {}),
    timeoutMs: CALL_TIMEOUT_MS,
    localAddress: world.consoleAddress,
  });
  const what = `${operationOf(w)} ${classOf(w)}${w.invoke ? `.${w.invoke.method}` : ''}`;
  let result: CallResult;
  try {
    result = await call(client, w, device);
  } catch (e) {
    const code = e instanceof WsmanError ? e.code : 'WSMAN_BAD_RESPONSE';
    const reason = e instanceof Error ? e.message : String(e);
    if (w.expectCode === code) return { ok: true, message: `${device.id}: ${what} failed as expected (${code}: ${reason})` };
    return { ok: false, message: `${device.id}: ${what} failed: ${code}: ${reason}${w.expectCode ? ` (expected ${w.expectCode})` : ''}` };
  } finally {
    client.close();
  }
  if (w.expectCode) return { ok: false, message: `${device.id}: ${what} succeeded, expected ${w.expectCode}` };
  const bad: string[] = [];
  const e = w.expect ?? {};
  if (e.returnValue !== undefined && result.returnValue !== e.returnValue) bad.push(`ReturnValue ${String(result.returnValue)}, expected ${e.returnValue}`);
  if (e.count !== undefined && result.count !== e.count) bad.push(`${String(result.count)} instances, expected ${e.count}`);
  for (const [k, v] of Object.entries(withConsentCode(e.properties ?? {}, device))) {
    if (!same(v, result.properties[k])) bad.push(`${k} = ${result.properties[k] ?? '(absent)'}, expected ${String(v)}`);
  }
  const got = [result.returnValue !== undefined ? `ReturnValue ${result.returnValue}` : '', result.count !== undefined ? `${result.count} instances` : ''].filter(Boolean).join(', ');
  if (bad.length) return { ok: false, message: `${device.id}: ${what}: ${bad.join('; ')}` };
  return { ok: true, message: `${device.id}: ${what}${got ? `: ${got}` : ''}` };
}
