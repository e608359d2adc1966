import { describe, it, expect } from 'vitest';
import { matchDnsSuffix } from '../../src/device/pkich.js';

// [identifier, suffix, sdk rule, strict rule]
const cases: Array<[string, string, boolean, boolean]> = [
  ['corp.example.test', 'corp.example.test', true, true], // exact
  ['prov.corp.example.test', 'corp.example.test', true, true], // subdomain
  ['a.b.prov.corp.example.test', 'corp.example.test', true, true], // deep subdomain
  ['evilcorp.example.test', 'corp.example.test', false, false], // label boundary
  ['prov.evilcorp.example.test', 'corp.example.test', false, false],
  ['corp.example.test', 'prov.corp.example.test', false, false], // identifier shorter than suffix, unlisted TLD
  ['PROV.Corp.Example.TEST', 'corp.EXAMPLE.test', true, true], // case
  ['prov.corp.example.test.', 'corp.example.test', true, true], // trailing dot on identifier
  ['prov.corp.example.test', 'corp.example.test.', true, true], // trailing dot on suffix
  ['*.corp.example.test', 'corp.example.test', true, true], // wildcard equals
  ['*.corp.example.test', 'dept.corp.example.test', true, true], // wildcard covers subdomain
  ['*.corp.example.test', 'example.test', true, true], // identifier still ends with the suffix
  ['*.corp.example.test', 'evilcorp.example.test', false, false],
  ['*.test', 'corp.example.test', false, false], // registry-wide wildcard refused
  ['*.com', 'intel.com', false, false],
  ['*.co.uk', 'example.co.uk', false, false], // uk depth 3
  ['*.example.co.uk', 'dept.example.co.uk', true, true],
  ['csa.ftl.intel.com', 'dev.intel.com', true, false], // SDK .com second-level rule
  ['csa.ftl.intel.net', 'dev.intel.net', true, false],
  ['csa.intel.com', 'dev.amd.com', false, false], // different second level
  ['evilcorp.example.com', 'corp.example.com', true, false], // SDK rule is that permissive
  ['prov.example.co.uk', 'dept.example.co.uk', true, false], // extended TLD table, uk depth 3
  ['prov.other.co.uk', 'dept.example.co.uk', false, false], // same 2nd level 'co' is not enough for uk
  ['intel.com', 'dev.intel.com', true, false],
  ['prov.example.test', 'dev.example.test', false, false], // unlisted TLD: no exception
  ['', 'corp.example.test', false, false],
  ['prov.corp.example.test', '', false, false],
  ['prov..example.test', 'example.test', false, false], // empty label
  ['prov.*.example.test', 'example.test', false, false], // wildcard not leftmost
];

describe('matchDnsSuffix', () => {
  it.each(cases)('%s vs %s → sdk %s, strict %s', (id, sfx, sdk, strict) => {
    expect(matchDnsSuffix(id, sfx)).toBe(sdk);
    expect(matchDnsSuffix(id, sfx, 'sdk')).toBe(sdk);
    expect(matchDnsSuffix(id, sfx, 'strict')).toBe(strict);
  });
});
