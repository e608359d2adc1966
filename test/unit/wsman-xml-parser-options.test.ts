/**
 * Both WS-Man parsers (the device's request parser, the provisioning client's response parser)
 * run fast-xml-parser with `jPath: false`, which only changes what the parser hands to callbacks
 * (a matcher instead of a path string built per tag). We use no such callback, so the parsed
 * object must be exactly what the default `jPath: true` gives — on real envelopes from both
 * ends and on the awkward inputs (entities, CDATA, comments, nil, repeated and mixed content).
 */
import { AMT, CIM, IPS } from '@device-management-toolkit/wsman-messages';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { buildEnvelope, epr, faultEnvelope, instanceXml } from '../../src/device/wsman/envelope.js';
import { Faults, NS } from '../../src/device/wsman/faults.js';
import { REQUEST_PARSER_OPTIONS } from '../../src/device/wsman/request.js';
import { identifyResponse } from '../../src/device/wsman/service.js';
import { RESPONSE_PARSER_OPTIONS } from '../../src/provisioning/wsman-xml.js';

const amt = new AMT.Messages();
const cim = new CIM.Messages();
const ips = new IPS.Messages();

const requests = [
  amt.GeneralSettings.Get(),
  amt.SetupAndConfigurationService.Get(),
  amt.SetupAndConfigurationService.SetMEBXPassword('P&amp;ss&lt;w&gt;rd!1'),
  amt.SetupAndConfigurationService.CommitChanges(),
  amt.AuthorizationService.SetAdminACLEntryEx('admin', '0123456789abcdef0123456789abcdef'),
  amt.TimeSynchronizationService.GetLowAccuracyTimeSynch(),
  amt.TimeSynchronizationService.SetHighAccuracyTimeSynch(1700000000, 1700000001, 1700000001),
  cim.SoftwareIdentity.Enumerate(),
  cim.SoftwareIdentity.Pull('17000000-0000-0000-0000-000000000000'),
  ips.HostBasedSetupService.Get(),
];

const GS = 'http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings';
const responses = [
  buildEnvelope({
    bodyNamespaces: [GS, NS.common],
    action: 'http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse',
    relatesTo: '1',
    messageId: 'uuid:00000000-8086-8086-8086-000000000001',
    resourceUri: GS,
    body: instanceXml('g', { className: 'AMT_GeneralSettings', resourceUri: GS, props: { DigestRealm: 'Digest:0123456789ABCDEF0123456789ABCDEF', HostName: 'pc&1', Ports: [16992, 16993], Nil: null, Ref: epr(GS, { InstanceID: 'Intel(r) AMT: General Settings' }) } }),
  }),
  faultEnvelope(Faults.accessDenied(), 'uuid:x', 'uuid:y'),
  identifyResponse('16.1.25'),
];

const awkward = [
  '<a:Envelope xmlns:a="urn:e" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><a:Header/><a:Body><g:X xmlns:g="urn:g"><g:V xsi:nil="true"/><g:V>1</g:V><g:V> 2 </g:V></g:X></a:Body></a:Envelope>',
  '<Envelope><Body><X>a<![CDATA[<b>&amp;</b>]]>c<!-- note --></X><Y a="1" b=\'&quot;x&quot;\'>t&#65;&#x42;&lt;</Y></Body></Envelope>',
  '<Envelope><Body><M>text<i>in</i>tail</M><E></E><S/><R><x>1</x><x><y>2</y></x></R></Body></Envelope>',
  '<?xml version="1.0" encoding="UTF-8"?><?pi data?>\r\n<s:Envelope xmlns:s="urn:s">\r\n  <s:Body>\r\n    <s:Q s:attr="v">  spaced  </s:Q>\r\n  </s:Body>\r\n</s:Envelope>',
];

describe('WS-Man parser options: jPath false gives the same parse as the default', () => {
  for (const [name, options] of [['device request parser', REQUEST_PARSER_OPTIONS], ['provisioning response parser', RESPONSE_PARSER_OPTIONS]] as const) {
    it(name, () => {
      expect(options.jPath).toBe(false);
      const fast = new XMLParser(options);
      const reference = new XMLParser({ ...options, jPath: true });
      for (const xml of [...requests, ...responses, ...awkward]) {
        expect(fast.parse(xml), xml).toEqual(reference.parse(xml));
      }
    });
  }
});
