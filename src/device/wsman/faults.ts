/**
 * WS-Management faults (DSP0226 §14) with the HTTP status of the SOAP 1.2 HTTP binding:
 * Sender faults → 400, Receiver faults → 500 (an AMT 16 InternalError trace answers 500,
 * reference §5.6 / rpc-go issue 843).
 */
export const NS = {
  envelope: 'http://www.w3.org/2003/05/soap-envelope',
  addressing: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsman: 'http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd',
  trust: 'http://schemas.xmlsoap.org/ws/2005/02/trust',
  secext: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  cimbinding: 'http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd',
  enumeration: 'http://schemas.xmlsoap.org/ws/2004/09/enumeration',
  transfer: 'http://schemas.xmlsoap.org/ws/2004/09/transfer',
  common: 'http://schemas.dmtf.org/wbem/wscim/1/common',
  identity: 'http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

export type FaultNamespace = 'addressing' | 'wsman' | 'transfer' | 'enumeration' | 'envelope';

export interface WsmanFault {
  kind: 'fault';
  code: 'Sender' | 'Receiver';
  ns: FaultNamespace;
  subcode: string;
  reason: string;
  /** Optional wsman:FaultDetail URI. */
  detail?: string;
  httpStatus: 400 | 500;
}

function fault(code: 'Sender' | 'Receiver', ns: FaultNamespace, subcode: string, reason: string, detail?: string): WsmanFault {
  return { kind: 'fault', code, ns, subcode, reason, httpStatus: code === 'Sender' ? 400 : 500, ...(detail ? { detail } : {}) };
}

export const Faults = {
  destinationUnreachable: (reason = 'No route can be determined to reach the destination role defined by the WS-Addressing To.') =>
    fault('Sender', 'addressing', 'DestinationUnreachable', reason),
  actionNotSupported: (action: string) =>
    fault('Sender', 'addressing', 'ActionNotSupported', `The action is not supported by the service: ${action.slice(0, 200)}`),
  invalidSelectors: (reason = 'The Selectors for the resource were not valid.') =>
    fault('Sender', 'wsman', 'InvalidSelectors', reason, 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InsufficientSelectors'),
  accessDenied: (reason = 'The sender was not authorized to access the resource.') => fault('Sender', 'wsman', 'AccessDenied', reason),
  invalidRepresentation: (reason = 'The XML content was invalid.') =>
    fault('Sender', 'transfer', 'InvalidRepresentation', reason, 'http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/InvalidValues'),
  schemaValidation: (reason: string) => fault('Sender', 'wsman', 'SchemaValidationError', reason),
  encodingLimit: (reason: string) => fault('Sender', 'wsman', 'EncodingLimit', reason),
  invalidEnumerationContext: () =>
    fault('Receiver', 'enumeration', 'InvalidEnumerationContext', 'The supplied enumeration context is invalid.'),
  internalError: (reason = 'The service cannot comply with the request due to internal processing errors.') =>
    fault('Receiver', 'wsman', 'InternalError', reason),
} as const;

export function isFault(x: unknown): x is WsmanFault {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'fault';
}
