/**
 * Redirection protocol (16994/16995) message types and fixed lengths. Values from amtterm's
 * `RedirectionConstants.h` and `auth.c` (kraxel/amtterm), cross-checked with MeshCentral's
 * `amt/amt-redir-mesh.js`; reference §6.3. Names follow amtterm, whose "host" is the managed
 * PC: "data to host" (0x28) are keystrokes from the console, "data from host" (0x2A) is the
 * PC's serial output going to the console.
 */

export const MSG = {
  START_REDIRECTION_SESSION: 0x10,
  START_REDIRECTION_SESSION_REPLY: 0x11,
  END_REDIRECTION_SESSION: 0x12,
  AUTHENTICATE_SESSION: 0x13,
  AUTHENTICATE_SESSION_REPLY: 0x14,

  START_SOL_REDIRECTION: 0x20,
  START_SOL_REDIRECTION_REPLY: 0x21,
  END_SOL_REDIRECTION: 0x22,
  END_SOL_REDIRECTION_REPLY: 0x23,
  SOL_KEEP_ALIVE_PING: 0x24,
  SOL_KEEP_ALIVE_PONG: 0x25,
  /** MeshCentral sends `27 00 00 00 <seq> 00 00 1B 00 00 00` right after 0x21 (§6.3); not in amtterm. */
  SOL_SETTINGS: 0x27,
  SOL_DATA_TO_HOST: 0x28,
  SOL_CONTROLS_FROM_HOST: 0x29,
  SOL_DATA_FROM_HOST: 0x2a,
  SOL_HEARTBEAT: 0x2b,

  START_IDER_REDIRECTION: 0x40,
  START_IDER_REDIRECTION_REPLY: 0x41,
  END_IDER_REDIRECTION: 0x42,
  END_IDER_REDIRECTION_REPLY: 0x43,
  IDER_KEEP_ALIVE_PING: 0x44,
  IDER_KEEP_ALIVE_PONG: 0x45,
  IDER_RESET_OCCURED_RESPONSE: 0x47,
  IDER_DISABLE_ENABLE_FEATURES: 0x48,
  IDER_DISABLE_ENABLE_FEATURES_REPLY: 0x49,
  IDER_HEARTBEAT: 0x4b,

  /** In a KVMR session the client's 0x40 is an 8-byte "start KVM" and the reply 0x41 is 8 bytes (MC-redir). */
  START_KVM: 0x40,
  START_KVM_REPLY: 0x41,
} as const;

export const LEN = {
  START_REDIRECTION_SESSION: 8,
  START_REDIRECTION_SESSION_REPLY: 13,
  END_REDIRECTION_SESSION: 4,
  AUTH_HEADER: 9,
  HEARTBEAT: 8,
  START_SOL_REDIRECTION: 24,
  START_SOL_REDIRECTION_REPLY: 23,
  END_SOL_REDIRECTION: 8,
  END_SOL_REDIRECTION_REPLY: 8,
  SOL_SETTINGS: 14,
  SOL_CONTROLS: 10,
  SOL_DATA_HEADER: 10,
  START_IDER_REDIRECTION: 18,
  START_IDER_REDIRECTION_REPLY: 30,
  END_IDER_REDIRECTION: 8,
  END_IDER_REDIRECTION_REPLY: 8,
  IDER_RESET_OCCURED_RESPONSE: 8,
  IDER_DISABLE_ENABLE_FEATURES: 13,
  IDER_DISABLE_ENABLE_FEATURES_REPLY: 13,
  START_KVM: 8,
  START_KVM_REPLY: 8,
} as const;

/** Session tags at bytes 4–7 of StartRedirectionSession. */
export const SESSION_TAGS = ['SOL ', 'IDER', 'KVMR'] as const;
export type SessionTag = (typeof SESSION_TAGS)[number];

/** AuthenticateSession authType byte (amtterm auth.c; MeshCentral). */
export const AUTH_TYPE = { QUERY: 0, PLAIN: 1, KERBEROS: 2, DIGEST_RFC2069: 3, DIGEST_RFC2617: 4 } as const;
/** What this device offers in the reply to a query: plain (amtterm 1.4), both digests (MeshCentral uses 4). */
export const SUPPORTED_AUTH_TYPES = [AUTH_TYPE.PLAIN, AUTH_TYPE.DIGEST_RFC2069, AUTH_TYPE.DIGEST_RFC2617] as const;

export const STATUS = { SUCCESS: 0, FAIL: 1 } as const;

/** amtterm auth.c limits: user/pass ≤ 32, realm ≤ 64, nonce/cnonce/response ≤ 32 hex, qop ≤ 8. */
export const AUTH_LIMITS = { USER: 32, PASS: 32, REALM: 64, NONCE: 32, QOP: 8 } as const;
export const REDIRECTION_URI = '/RedirectionService';

/** Codes recorded on the timeline for redirection failures (string codes, see Timeline.record). */
export type RedirectionCode =
  | 'REDIRECTION_AUTH_FAILED'
  | 'REDIRECTION_PROTOCOL'
  | 'REDIRECTION_TIMEOUT'
  | 'REDIRECTION_OVERFLOW'
  | 'REDIRECTION_BUSY'
  | 'REDIRECTION_PORT_CLOSED'
  /** The feature is off (AMT_RedirectionService EnabledState / CIM_KVMRedirectionSAP). */
  | 'REDIRECTION_DISABLED'
  /** The consent policy covers this feature and no consent was given (docs/reference-user-consent.md). */
  | 'USER_CONSENT_REQUIRED';
