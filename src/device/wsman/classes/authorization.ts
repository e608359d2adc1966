/**
 * AMT_AuthorizationService: the admin ACL entry. SetAdminAclEntryEx stores
 * MD5(user:realm:password); rpc-go sends it as base64 of the raw 16 bytes (reference §5.4),
 * MeshCentral and RPS as 32 hex characters (§1.3 step 5.3, §5.2) — both are accepted and kept
 * as lower-case hex (nvram adminAcl.digestHash).
 */
import { instance, param, type WsmanClass, type WsmanContext } from '../types.js';

/** 32 hex or base64 of 16 bytes → lower-case hex; anything else → undefined. */
export function normalizeDigestHash(v: string): string | undefined {
  const s = v.trim();
  if (/^[0-9a-fA-F]{32}$/.test(s)) return s.toLowerCase();
  if (/^[A-Za-z0-9+/]{22}(==)?$/.test(s)) {
    const b = Buffer.from(s, 'base64');
    if (b.length === 16) return b.toString('hex');
  }
  return undefined;
}

const NAME = 'Intel(r) AMT Authorization Service';

function current(_ctx: WsmanContext) {
  return instance('AMT_AuthorizationService', {
    AllowHttpQopAuthOnly: 1,
    CreationClassName: 'AMT_AuthorizationService',
    ElementName: NAME,
    EnabledState: 5,
    Name: NAME,
    RequestedState: 12,
    SystemCreationClassName: 'CIM_ComputerSystem',
    SystemName: 'Intel(r) AMT',
  });
}

export const authorizationService: WsmanClass = {
  className: 'AMT_AuthorizationService',
  get: (ctx) => current(ctx),
  enumerate: (ctx) => [current(ctx)],
  methods: {
    // PT_STATUS: 0 SUCCESS, 1 INTERNAL_ERROR, 16 NOT_PERMITTED, 36 INVALID_PARAMETER.
    SetAdminAclEntryEx: (ctx, input) => {
      const user = param(input, 'Username') ?? '';
      const hash = normalizeDigestHash(param(input, 'DigestPassword') ?? '');
      // AMT user names: 1–16 printable characters without ':' (the digest A1 separator).
      if (!/^[\x21-\x7e]{1,16}$/.test(user) || user.includes(':') || !hash) return { returnValue: 36 };
      if (ctx.device.state === 'Pre') return { returnValue: 16 };
      ctx.device.update((img) => {
        img.adminAcl = { username: user, digestHash: hash };
      });
      ctx.device.record('acl.admin-set', { username: user });
      return { returnValue: 0 };
    },
    GetAdminAclEntry: (ctx) => ({ returnValue: 0, out: { Username: ctx.device.nvram.adminAcl.username } }),
    GetAdminAclEntryStatus: (ctx) => ({ returnValue: 0, out: { IsDefault: ctx.device.nvram.adminAcl.digestHash === undefined } }),
    GetAdminNetAclEntryStatus: (ctx) => ({ returnValue: 0, out: { IsDefault: ctx.device.nvram.adminAcl.digestHash === undefined } }),
  },
};
