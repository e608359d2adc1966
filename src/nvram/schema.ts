import { Ajv, type ErrorObject } from 'ajv';
import { AmtError } from '../common/errors.js';
import { HASH_LENGTH, NVRAM_SCHEMA_VERSION, type HashAlgorithm, type NvramImage } from './image.js';
import { findJsonSyntaxProblem } from './json-syntax.js';

/**
 * JSON Schema of the NVRAM image (src/nvram/image.ts). Strict: every object closes its
 * properties, so a typo in a hand-edited file is an error naming the field, not a silently
 * ignored setting. Formats are patterns (no ajv-formats dependency). The API reuses this object.
 */

/** Safe file-name stem: one path segment, not "." or "..". */
export const DEVICE_ID_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,64}$/;
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
/** One DNS label (RFC 1123). */
export const HOSTNAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** A DNS name of labels, or empty. */
export const DOMAIN_PATTERN = /^$|^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
export const IPV4_PATTERN = /^((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])$/;
/** "Digest:" + 32 upper-case hex (RPS isDigestRealmValid; reference §5.2, §6.2). */
export const REALM_PATTERN = /^Digest:[0-9A-F]{32}$/;
export const HEX_PATTERN = /^[0-9a-f]*$/;
/** base64 of exactly 20 bytes (ConfigurationNonce, reference §5.3). */
export const NONCE20_PATTERN = /^[A-Za-z0-9+/]{27}=$/;
/** CFG_SetPkiFQDNSuffix takes an AMT_ANSI_STRING of at most 223 bytes (reference §2.2). */
export const MAX_PKI_DNS_SUFFIX = 223;

const src = (re: RegExp): string => re.source;
const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const hashAlgorithm = { type: 'string', enum: ['SHA1', 'SHA256', 'SHA384'] } as const;

const tlsSettings = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'mutualAuthentication', 'acceptNonSecureConnections', 'trustedCn'],
  properties: {
    enabled: bool,
    mutualAuthentication: bool,
    acceptNonSecureConnections: bool,
    trustedCn: { type: 'array', items: str },
  },
} as const;

export const NVRAM_IMAGE_SCHEMA = {
  $id: 'https://amtemu.dev/schemas/nvram-image-v1.json',
  title: 'amtemu NVRAM image',
  type: 'object',
  additionalProperties: false,
  required: [
    'schemaVersion', 'deviceId', 'uuid', 'firmware', 'macs', 'network', 'provisioning', 'setup', 'mebx', 'adminAcl',
    'digestRealm', 'localSystemAccount', 'configurationNonce', 'certHashes', 'tls', 'auditRecord', 'generation',
  ],
  properties: {
    schemaVersion: { type: 'integer', const: NVRAM_SCHEMA_VERSION },
    deviceId: { type: 'string', pattern: src(DEVICE_ID_PATTERN) },
    uuid: { type: 'string', pattern: src(UUID_PATTERN) },
    firmware: {
      type: 'object',
      additionalProperties: false,
      required: ['profile', 'version'],
      properties: {
        profile: { type: 'string', enum: ['amt3', 'amt6', 'amt11', 'amt12', 'amt15', 'amt16', 'amt19'] },
        version: { type: 'string', pattern: '^[0-9]+(\\.[0-9]+){1,3}$' },
      },
    },
    macs: { type: 'array', items: { type: 'string', pattern: src(MAC_PATTERN) } },
    network: {
      type: 'object',
      additionalProperties: false,
      required: ['hostname', 'domain', 'wiredLan'],
      properties: {
        hostname: { type: 'string', pattern: src(HOSTNAME_PATTERN) },
        domain: { type: 'string', pattern: src(DOMAIN_PATTERN) },
        wiredLan: bool,
      },
    },
    provisioning: {
      type: 'object',
      additionalProperties: false,
      required: ['state', 'controlMode', 'mode', 'trigger', 'remoteConfigTimerHours', 'zeroTouchEnabled', 'window'],
      properties: {
        state: { type: 'string', enum: ['Pre', 'In', 'Post'] },
        controlMode: { type: 'string', enum: ['none', 'CCM', 'ACM'] },
        mode: { type: 'string', enum: ['Enterprise', 'SMB'] },
        trigger: { type: 'string', enum: ['talk', 'listen'] },
        // §2.1: provisioning period max 255 h.
        remoteConfigTimerHours: { type: 'integer', minimum: 0, maximum: 255 },
        zeroTouchEnabled: bool,
        window: {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'elapsedMs', 'lengthMs', 'hellosSent', 'bareMetalUsed'],
          properties: {
            kind: { type: 'string', enum: ['closed', 'bareMetal', 'agent'] },
            elapsedMs: nonNegInt,
            lengthMs: nonNegInt,
            hellosSent: nonNegInt,
            bareMetalUsed: bool,
            hostBased: bool,
          },
        },
      },
    },
    setup: {
      type: 'object',
      additionalProperties: false,
      required: ['pkiDnsSuffix', 'provisioningServer', 'homeDomains', 'provisionHalt'],
      properties: {
        pkiDnsSuffix: { type: 'string', maxLength: MAX_PKI_DNS_SUFFIX, pattern: src(DOMAIN_PATTERN) },
        provisioningServer: {
          type: 'object',
          additionalProperties: false,
          required: ['port'],
          properties: {
            address: { type: 'string', pattern: src(IPV4_PATTERN) },
            fqdn: { type: 'string', pattern: src(DOMAIN_PATTERN), minLength: 1 },
            port: { type: 'integer', minimum: 1, maximum: 65535 },
          },
        },
        otp: { type: 'string', pattern: src(HEX_PATTERN) },
        pid: str,
        pps: str,
        homeDomains: { type: 'array', items: { type: 'string', pattern: src(DOMAIN_PATTERN), minLength: 1 } },
        provisionHalt: bool,
      },
    },
    mebx: {
      type: 'object',
      additionalProperties: false,
      required: ['password', 'passwordChanged'],
      properties: { password: { type: 'string', minLength: 1, maxLength: 32 }, passwordChanged: bool },
    },
    adminAcl: {
      type: 'object',
      additionalProperties: false,
      required: ['username'],
      properties: {
        username: { type: 'string', minLength: 1, maxLength: 32 },
        digestHash: { type: 'string', pattern: '^[0-9a-f]{32}$' },
      },
    },
    digestRealm: { type: 'string', pattern: src(REALM_PATTERN) },
    localSystemAccount: {
      type: 'object',
      additionalProperties: false,
      required: ['username', 'password'],
      // CFG_GetLocalSystemAccount: user[33] + pass[33] (§2.2).
      properties: { username: { type: 'string', maxLength: 32 }, password: { type: 'string', maxLength: 32 } },
    },
    configurationNonce: { type: 'string', pattern: src(NONCE20_PATTERN) },
    certHashes: {
      type: 'array',
      maxItems: 33, // §4.1 largest table
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'algorithm', 'hash', 'isDefault', 'isActive'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 32 },
          algorithm: hashAlgorithm,
          hash: { type: 'string', pattern: '^[0-9a-f]{40}([0-9a-f]{24}([0-9a-f]{32})?)?$' },
          isDefault: bool,
          isActive: bool,
        },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      required: ['remote', 'local', 'keyPairs', 'certificates'],
      properties: {
        remote: tlsSettings,
        local: tlsSettings,
        keyPairs: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['instanceId', 'privateKeyPem', 'publicKeyDer'],
            properties: { instanceId: str, privateKeyPem: str, publicKeyDer: str },
          },
        },
        certificates: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['instanceId', 'x509', 'trustedRoot'],
            properties: { instanceId: str, x509: str, trustedRoot: bool, keyPairId: str },
          },
        },
        credentialContext: str,
      },
    },
    auditRecord: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          additionalProperties: false,
          required: ['kind', 'time', 't'],
          properties: {
            kind: { type: 'string', enum: ['pki', 'psk', 'hostBasedCCM', 'hostBasedACM', 'manual', 'usb'] },
            time: str,
            t: { type: 'number', minimum: 0 },
            provServerFqdn: str,
            provServerIp: str,
            certificateCn: str,
            selectedHashType: hashAlgorithm,
            selectedHash: { type: 'string', pattern: src(HEX_PATTERN) },
            hashIsOemDefault: bool,
            caCertificateSerials: { type: 'array', maxItems: 3, items: { type: 'string', pattern: src(HEX_PATTERN) } },
            additionalCaSerialNums: bool,
            secureDns: bool,
            hostInitiated: bool,
            isTimeValid: bool,
          },
        },
      ],
    },
    redirection: {
      type: 'object',
      additionalProperties: false,
      required: ['enabledState', 'listenerEnabled', 'kvmEnabled', 'kvmRequestedState', 'is5900PortEnabled', 'kvmSessionTimeout', 'rfbPassword'],
      properties: {
        enabledState: { type: 'integer', enum: [32768, 32769, 32770, 32771] },
        listenerEnabled: bool,
        kvmEnabled: bool,
        kvmRequestedState: { type: 'integer', minimum: 0, maximum: 65535 },
        is5900PortEnabled: bool,
        kvmSessionTimeout: { type: 'integer', minimum: 0, maximum: 65535 },
        rfbPassword: { type: 'string', maxLength: 8 },
      },
    },
    userConsent: {
      type: 'object',
      additionalProperties: false,
      required: ['optInRequired', 'canModifyOptInPolicy', 'optInCodeTimeout', 'optInDisplayTimeout'],
      properties: {
        optInRequired: { type: 'integer', enum: [0, 1, 4294967295] },
        canModifyOptInPolicy: bool,
        optInCodeTimeout: { type: 'integer', minimum: 60, maximum: 900 },
        optInDisplayTimeout: { type: 'integer', minimum: 10, maximum: 4095 },
      },
    },
    generation: nonNegInt,
  },
} as const;

const ajv = new Ajv({ strict: true, allErrors: false });
const validateImage = ajv.compile(NVRAM_IMAGE_SCHEMA);

/** The JSON pointer of the field an ajv error is about (the missing/extra property included). */
function pointerOf(err: ErrorObject): string {
  const params = err.params as Record<string, unknown>;
  const esc = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
  if (err.keyword === 'required' && typeof params['missingProperty'] === 'string') {
    return `${err.instancePath}/${esc(params['missingProperty'])}`;
  }
  if (err.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
    return `${err.instancePath}/${esc(params['additionalProperty'])}`;
  }
  return err.instancePath || '/';
}

function describe(err: ErrorObject): string {
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return 'is missing';
    case 'additionalProperties':
      return 'is not a known field';
    case 'enum':
      return `must be one of ${(params['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern':
      return `does not match the expected format ${String(params['pattern'])}`;
    case 'const':
      return `must be ${JSON.stringify(params['allowedValue'])}`;
    default:
      return err.message ?? 'is invalid';
  }
}

/** Checks a value against the schema and the rules a schema cannot say (hash length per algorithm). */
export function validateNvramImage(value: unknown, file: string): asserts value is NvramImage {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const v = (value as Record<string, unknown>)['schemaVersion'];
    if (v !== undefined && v !== NVRAM_SCHEMA_VERSION) {
      throw new AmtError(
        'NVRAM_INVALID',
        `${file}: schemaVersion ${JSON.stringify(v)} is not supported (this amtemu reads schemaVersion ${NVRAM_SCHEMA_VERSION})`,
        { file, pointer: '/schemaVersion', found: v },
      );
    }
  }
  if (!validateImage(value)) {
    const err = validateImage.errors![0]!;
    const pointer = pointerOf(err);
    throw new AmtError('NVRAM_INVALID', `${file}: field ${pointer} ${describe(err)}`, { file, pointer, keyword: err.keyword });
  }
  const image = value as NvramImage;
  image.certHashes.forEach((e, i) => {
    const want = HASH_LENGTH[e.algorithm as HashAlgorithm] * 2;
    if (e.hash.length !== want) {
      const pointer = `/certHashes/${i}/hash`;
      throw new AmtError('NVRAM_INVALID', `${file}: field ${pointer} must be ${want} hex characters for ${e.algorithm}, got ${e.hash.length}`, {
        file,
        pointer,
      });
    }
  });
}

/**
 * Parses an NVRAM file's text. Non-JSON or truncated → NVRAM_CORRUPT (with line:column);
 * well-formed but wrong → NVRAM_INVALID naming the JSON pointer of the first bad field.
 */
export function parseImage(text: string, file: string): NvramImage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (text.trim().length === 0) {
      throw new AmtError('NVRAM_CORRUPT', `${file}: file is empty (truncated write?)`, { file });
    }
    const p = findJsonSyntaxProblem(text);
    const where = p ? ` at line ${p.line} column ${p.column} (byte ${p.offset})` : '';
    const what = p ? (p.truncated ? 'file ends in the middle of the JSON (truncated write?)' : `not valid JSON: ${p.message}`) : `not valid JSON: ${(e as Error).message}`;
    throw new AmtError('NVRAM_CORRUPT', `${file}: ${what}${where}`, { file, ...(p ? { line: p.line, column: p.column, offset: p.offset } : {}) });
  }
  validateNvramImage(value, file);
  return value;
}
