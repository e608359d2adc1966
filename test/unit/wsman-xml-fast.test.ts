import { describe, expect, it } from 'vitest';
import { isDeepStrictEqual } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parsePlainXml, type FastXmlOptions } from '../../src/device/wsman/xml-fast.js';
import { parseEnvelope } from '../../src/device/wsman/request.js';

// Captured from one bench (d) activation: device responses (GeneralSettings Get, SoftwareIdentity
// Pull) and wsman-messages requests (Get, SetAdminAclEntryEx).
const SAMPLES = [
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a:Envelope xmlns:a=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:b=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:c=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/02/trust\" xmlns:e=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\" xmlns:f=\"http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd\" xmlns:g=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings\" xmlns:h=\"http://schemas.dmtf.org/wbem/wscim/1/common\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:RelatesTo>0</b:RelatesTo><b:Action a:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000001</b:MessageID><c:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_GeneralSettings</c:ResourceURI></a:Header><a:Body><g:AMT_GeneralSettings><g:AMTNetworkEnabled>1</g:AMTNetworkEnabled><g:DDNSPeriodicUpdateInterval>1440</g:DDNSPeriodicUpdateInterval><g:DDNSTTL>900</g:DDNSTTL><g:DDNSUpdateByDHCPServerEnabled>true</g:DDNSUpdateByDHCPServerEnabled><g:DDNSUpdateEnabled>false</g:DDNSUpdateEnabled><g:DHCPSyncRRTTL>0</g:DHCPSyncRRTTL><g:DHCPv6ConfigurationTimeout>0</g:DHCPv6ConfigurationTimeout><g:DigestRealm>Digest:0E7D959CA70FE2D9B9FFC19A134625DB</g:DigestRealm><g:DomainName></g:DomainName><g:ElementName>Intel(r) AMT: General Settings</g:ElementName><g:HostName>d1</g:HostName><g:HostOSFQDN>d1</g:HostOSFQDN><g:IdleWakeTimeout>65535</g:IdleWakeTimeout><g:InstanceID>Intel(r) AMT: General Settings</g:InstanceID><g:NetworkInterfaceEnabled>true</g:NetworkInterfaceEnabled><g:PingResponseEnabled>true</g:PingResponseEnabled><g:PowerSource>0</g:PowerSource><g:PreferredAddressFamily>0</g:PreferredAddressFamily><g:PresenceNotificationInterval>0</g:PresenceNotificationInterval><g:PrivacyLevel>0</g:PrivacyLevel><g:RmcpPingResponseEnabled>true</g:RmcpPingResponseEnabled><g:SharedFQDN>true</g:SharedFQDN><g:ThunderboltDockEnabled>0</g:ThunderboltDockEnabled><g:WsmanOnlyMode>false</g:WsmanOnlyMode></g:AMT_GeneralSettings></a:Body></a:Envelope>",
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a:Envelope xmlns:a=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:b=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:c=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" xmlns:d=\"http://schemas.xmlsoap.org/ws/2005/02/trust\" xmlns:e=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\" xmlns:f=\"http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd\" xmlns:g=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\" xmlns:h=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity\" xmlns:i=\"http://schemas.dmtf.org/wbem/wscim/1/common\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><a:Header><b:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</b:To><b:RelatesTo>1</b:RelatesTo><b:Action a:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/2004/09/enumeration/PullResponse</b:Action><b:MessageID>uuid:00000000-8086-8086-8086-000000000003</b:MessageID><c:ResourceURI>http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_SoftwareIdentity</c:ResourceURI></a:Header><a:Body><g:PullResponse><g:Items><h:CIM_SoftwareIdentity><h:InstanceID>Flash</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25.2124</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>Netstack</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25.2124</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>AMTApps</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25.2124</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>AMT</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>Sku</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16392</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>VendorID</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>8086</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>Build Number</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>2124</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>Recovery Version</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25.2124</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>Recovery Build Num</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>2124</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>Legacy Mode</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>False</h:VersionString></h:CIM_SoftwareIdentity><h:CIM_SoftwareIdentity><h:InstanceID>AMT FW Core Version</h:InstanceID><h:IsEntity>true</h:IsEntity><h:VersionString>16.1.25.2124</h:VersionString></h:CIM_SoftwareIdentity></g:Items><g:EndOfSequence></g:EndOfSequence></g:PullResponse></a:Body></a:Envelope>",
  "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Header><a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Get</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_SetupAndConfigurationService</w:ResourceURI><a:MessageID>1</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body></Body></Envelope>",
  "<?xml version=\"1.0\" encoding=\"utf-8\"?><Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:a=\"http://schemas.xmlsoap.org/ws/2004/08/addressing\" xmlns:w=\"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd\" xmlns=\"http://www.w3.org/2003/05/soap-envelope\"><Header><a:Action>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuthorizationService/SetAdminAclEntryEx</a:Action><a:To>/wsman</a:To><w:ResourceURI>http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuthorizationService</w:ResourceURI><a:MessageID>3</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:OperationTimeout>PT60S</w:OperationTimeout></Header><Body><h:SetAdminAclEntryEx_INPUT xmlns:h=\"http://intel.com/wbem/wscim/1/amt-schema/1/AMT_AuthorizationService\"><h:Username>admin</h:Username><h:DigestPassword>8665257ca2bde78011b484e3c24598a7</h:DigestPassword></h:SetAdminAclEntryEx_INPUT></Body></Envelope>",
];

// The two configurations the project uses: the device's request parser and the provisioning client's.
const DEVICE: { opts: FastXmlOptions; parser: XMLParser } = {
  opts: { decodeEntities: true, keepDeclaration: false },
  parser: new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', removeNSPrefix: true, parseTagValue: false, parseAttributeValue: false, trimValues: true, ignoreDeclaration: true, ignorePiTags: true, processEntities: true, htmlEntities: false }),
};
const CLIENT: { opts: FastXmlOptions; parser: XMLParser } = {
  opts: { decodeEntities: false, keepDeclaration: true },
  parser: new XMLParser({ removeNSPrefix: true, processEntities: false, ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false, parseAttributeValue: false, trimValues: true }),
};

/** The fast path either declines, or accepts a well-formed document and gives fast-xml-parser's result. */
function agrees(xml: string): { fast: number; problem?: string } {
  let fast = 0;
  for (const { opts, parser } of [DEVICE, CLIENT]) {
    const mine = parsePlainXml(xml, opts);
    if (mine === undefined) continue;
    fast++;
    if (XMLValidator.validate(xml) !== true) return { fast, problem: `accepted what the validator refuses: ${JSON.stringify(xml)}` };
    const theirs: unknown = parser.parse(xml);
    if (!isDeepStrictEqual(mine, theirs)) return { fast, problem: `differs for ${JSON.stringify(xml)}: ${JSON.stringify(mine)} vs ${JSON.stringify(theirs)}` };
  }
  return { fast };
}

describe('parsePlainXml', () => {
  it('reads every captured envelope on the fast path, exactly as fast-xml-parser does', () => {
    for (const x of SAMPLES) expect(agrees(x)).toEqual({ fast: 2 });
  });

  it('matches fast-xml-parser on hand-picked shapes (entities, arrays, attributes, prefixes)', () => {
    const cases = [
      '<r a = \'1\' b:a="2"><x>&amp;lt;</x><x a="&quot;&apos;">é ü</x><y/><y></y><y>  </y></r>  \n',
      '<?xml version="1.0"?>\n<s:E xmlns:s="u" xmlns="v"><s:B/></s:E>',
      '<r><a x="1"><b>1</b></a><a>2</a><a><b>3</b><b>4</b></a></r>',
      '<r>&lt;&gt;&amp;&quot;&apos;</r>',
      '<r xmlns:x="1" x:y=" sp "/>',
      '<r>\u00a0x\u00a0</r>',
    ];
    for (const x of cases) expect(agrees(x)).toEqual({ fast: 2 });
  });

  it('declines what is outside the plain subset, leaving it to the validator and parser', () => {
    const declined = [
      '<r><toString/></r>', '<r><__proto__/></r>', '<r><a>1</a>t</r>', '<r>t<a/></r>', '<r a="1" a="2"/>', '<r><a:b:c/></r>', '<r>a > b</r>',
      '<r><![CDATA[x]]></r>', '<r><!-- c --></r>', '<!DOCTYPE r><r/>', '<r><?pi x?></r>', '<r/><r/>', 'x<r/>', '<r/>x', '<r>', '</r>', '<r></s>',
      '<r a=1/>', '<r a="<"/>', '<r a="&x;"/>', '<r>&#65;</r>', '<r>a &b</r>', '<r>\r\n</r>', '<r><xmlns:a/></r>', '', '   ',
    ];
    for (const x of declined) {
      expect(parsePlainXml(x, DEVICE.opts), x).toBeUndefined();
      expect(parsePlainXml(x, CLIENT.opts), x).toBeUndefined();
    }
    expect(parsePlainXml('<a>'.repeat(70) + '</a>'.repeat(70), DEVICE.opts)).toBeUndefined();
  });

  it('never disagrees with fast-xml-parser on mutated envelopes (seeded)', () => {
    let seed = 20_251_125;
    const rnd = (): number => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = '<>/="\'&;:! ?axb\n\t#-_.amplt[]';
    let accepted = 0;
    for (let k = 0; k < 8_000; k++) {
      let x = SAMPLES[Math.floor(rnd() * SAMPLES.length)]!;
      const edits = 1 + Math.floor(rnd() * 3);
      for (let j = 0; j < edits; j++) {
        const p = Math.floor(rnd() * x.length);
        const op = rnd();
        const ch = alphabet[Math.floor(rnd() * alphabet.length)]!;
        x = op < 0.33 ? x.slice(0, p) + ch + x.slice(p) : op < 0.66 ? x.slice(0, p) + x.slice(p + 1) : x.slice(0, p) + ch + x.slice(p + 1);
      }
      const r = agrees(x);
      accepted += r.fast;
      expect(r.problem).toBeUndefined();
    }
    // Most mutations keep the document plain; the property is only meaningful if many were compared.
    expect(accepted).toBeGreaterThan(4_000);
  });

  it('the device still answers malformed or unusual requests through the old path', () => {
    const ok = parseEnvelope(SAMPLES[2]!);
    expect('action' in ok && ok.action).toBe('http://schemas.xmlsoap.org/ws/2004/09/transfer/Get');
    const bad = parseEnvelope('<Envelope><Header></Envelope>');
    expect('action' in bad).toBe(false);
    // CDATA is outside the fast subset but valid XML: the old parser reads it.
    const cdata = parseEnvelope(SAMPLES[2]!.replace('<a:To>/wsman</a:To>', '<a:To><![CDATA[/wsman]]></a:To>'));
    expect('to' in cdata && cdata.to).toBe('/wsman');
  });
});
