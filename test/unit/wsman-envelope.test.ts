import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { buildEnvelope, faultEnvelope, instanceXml } from '../../src/device/wsman/envelope.js';
import { Faults, isFault } from '../../src/device/wsman/faults.js';
import { MAX_DEPTH, parseEnvelope } from '../../src/device/wsman/request.js';

const GET = (prefixes: { env: string; wsa: string; wsman: string }) =>
  `<?xml version="1.0"?><${prefixes.env}:Envelope xmlns:${prefixes.env}="http://www.w3.org/2003/05/soap-envelope" xmlns:${prefixes.wsa}="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:${prefixes.wsman}="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">` +
  `<${prefixes.env}:Header><${prefixes.wsa}:Action ${prefixes.env}:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</${prefixes.wsa}:Action>` +
  `<${prefixes.wsa}:To>/wsman</${prefixes.wsa}:To><${prefixes.wsman}:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData</${prefixes.wsman}:ResourceURI>` +
  `<${prefixes.wsa}:MessageID>uuid:1234</${prefixes.wsa}:MessageID><${prefixes.wsman}:SelectorSet><${prefixes.wsman}:Selector Name="InstanceID">Intel(r) AMT LMS TLS Settings</${prefixes.wsman}:Selector></${prefixes.wsman}:SelectorSet>` +
  `</${prefixes.env}:Header><${prefixes.env}:Body/></${prefixes.env}:Envelope>`;

describe('WS-Man envelope parsing', () => {
  it('reads action, resource, message id and selectors whatever the prefixes', () => {
    for (const p of [
      { env: 's', wsa: 'wsa', wsman: 'wsman' },
      { env: 'a', wsa: 'b', wsman: 'c' },
      { env: 'soap', wsa: 'addr', wsman: 'w' },
    ]) {
      const r = parseEnvelope(GET(p));
      if (isFault(r)) throw new Error(r.reason);
      expect(r.action).toBe('http://schemas.xmlsoap.org/ws/2004/09/transfer/Get');
      expect(r.resourceUri).toBe('http://intel.com/wbem/wscim/1/amt-schema/1/AMT_TLSSettingData');
      expect(r.messageId).toBe('uuid:1234');
      expect(r.selectors).toEqual({ InstanceID: 'Intel(r) AMT LMS TLS Settings' });
    }
  });

  it('refuses a DOCTYPE / entity bomb before parsing it', () => {
    const bomb =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>' +
      '<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header/><Body>&lol2;</Body></Envelope>';
    const r = parseEnvelope(bomb);
    expect(isFault(r) && r.subcode).toBe('SchemaValidationError');
    const ext = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Envelope>&e;</Envelope>';
    expect(isFault(parseEnvelope(ext))).toBe(true);
  });

  it('refuses nesting deeper than the limit, oversized input and malformed XML', () => {
    const deep = '<Envelope><Header/><Body>' + '<x>'.repeat(MAX_DEPTH + 5) + '</x>'.repeat(MAX_DEPTH + 5) + '</Body></Envelope>';
    const r1 = parseEnvelope(deep);
    expect(isFault(r1) && r1.subcode).toBe('EncodingLimit');
    const big = '<Envelope><Header/><Body><v>' + 'A'.repeat(300 * 1024) + '</v></Body></Envelope>';
    const r2 = parseEnvelope(big);
    expect(isFault(r2) && r2.subcode).toBe('EncodingLimit');
    const r3 = parseEnvelope('<Envelope><Header></Body></Envelope>');
    expect(isFault(r3) && r3.subcode).toBe('SchemaValidationError');
    expect(isFault(parseEnvelope('not xml at all'))).toBe(true);
  });

  it('decodes the five XML entities in values (passwords with & and <)', () => {
    const xml = '<Envelope><Header><Action>urn:x/SetMEBxPassword</Action></Header><Body><SetMEBxPassword_INPUT><Password>P&amp;ss&lt;1!</Password></SetMEBxPassword_INPUT></Body></Envelope>';
    const r = parseEnvelope(xml);
    if (isFault(r)) throw new Error(r.reason);
    expect(r.bodyName).toBe('SetMEBxPassword_INPUT');
    expect((r.body['SetMEBxPassword_INPUT'] as Record<string, string>)['Password']).toBe('P&ss<1!');
  });
});

describe('WS-Man response envelopes', () => {
  const parser = new XMLParser({ ignoreAttributes: false, removeNSPrefix: false });
  it('uses the firmware prefixes, header order and no whitespace between elements', () => {
    const xml = buildEnvelope({
      bodyNamespaces: ['http://intel.com/wbem/wscim/1/amt-schema/1/AMT_X', 'http://schemas.dmtf.org/wbem/wscim/1/common'],
      action: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse',
      relatesTo: '7',
      messageId: 'uuid:00000000-8086-8086-8086-000000000001',
      resourceUri: 'http://intel.com/wbem/wscim/1/amt-schema/1/AMT_X',
      body: instanceXml('g', { className: 'AMT_X', resourceUri: 'u', props: { Zed: 1, Alpha: 'a&b', List: [2, 1], Missing: undefined } }),
    });
    expect(xml).not.toMatch(/>\s+</);
    expect(xml).toMatch(/<a:Header><b:To>[^<]+<\/b:To><b:RelatesTo>7<\/b:RelatesTo><b:Action a:mustUnderstand="true">/);
    // Properties alphabetical, arrays repeated, undefined omitted, text escaped.
    expect(xml).toContain('<g:AMT_X><g:Alpha>a&amp;b</g:Alpha><g:List>2</g:List><g:List>1</g:List><g:Zed>1</g:Zed></g:AMT_X>');
    const doc = parser.parse(xml);
    expect(doc['a:Envelope']['@_xmlns:g']).toBe('http://intel.com/wbem/wscim/1/amt-schema/1/AMT_X');
  });

  it('renders a fault with code, subcode and reason', () => {
    const xml = faultEnvelope(Faults.destinationUnreachable(), '3', 'uuid:00000000-8086-8086-8086-000000000002');
    expect(xml).toContain('<a:Value>a:Sender</a:Value><a:Subcode><a:Value>b:DestinationUnreachable</a:Value>');
    expect(xml).toContain('<b:Action a:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/fault</b:Action>');
    expect(Faults.internalError().httpStatus).toBe(500);
    expect(Faults.invalidSelectors().httpStatus).toBe(400);
  });
});
