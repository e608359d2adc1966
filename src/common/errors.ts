/**
 * Errors are values with codes. The same code shows on the timeline, in the audit record, in
 * scenario reports and in the API, so a QA engineer can assert on `HASH_NOT_TRUSTED` rather
 * than on message text.
 */
export type AmtErrorCode =
  // lifecycle
  | 'ILLEGAL_TRANSITION'
  | 'INVALID_AMT_MODE'
  | 'NOT_PERMITTED'
  | 'INVALID_PARAMETER'
  | 'INVALID_PASSWORD'
  | 'DATA_MISSING'
  // certificate-hash table
  | 'HASH_TABLE_FULL'
  | 'HASH_DUPLICATE'
  | 'HASH_WRONG_LENGTH'
  | 'HASH_ALGORITHM_BANNED'
  | 'HASH_NOT_FOUND'
  | 'HASH_NAME_TOO_LONG'
  | 'HASH_DEFAULT_UNDELETABLE'
  // NVRAM store
  | 'NVRAM_NOT_FOUND'
  | 'NVRAM_CORRUPT'
  | 'NVRAM_INVALID'
  | 'NVRAM_IO'
  // the data directory is held by a running `amtemu serve` (src/nvram/data-dir-lock.ts)
  | 'NVRAM_LOCKED'
  // PKI-CH (remote configuration certificate checks)
  | 'HASH_NOT_TRUSTED'
  | 'HASH_INACTIVE'
  | 'SUFFIX_MISMATCH'
  | 'NO_DNS_SUFFIX'
  | 'MISSING_SETUP_OID_OR_OU'
  | 'NOT_SERVER_AUTH'
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'CHAIN_INCOMPLETE'
  | 'CHAIN_TOO_LONG'
  | 'BAD_SIGNATURE'
  | 'WEAK_KEY'
  | 'SHA1_NOT_ALLOWED'
  | 'NO_CLIENT_CERT'
  // secure host-based ACM (reference §5.4): the local TLS peer's leaf is not the one StartConfigurationHBased pinned
  | 'SERVER_CERT_HASH_MISMATCH'
  // discovery
  | 'DHCP_NO_OFFER'
  | 'DHCP_NAK'
  | 'DHCP_NO_DOMAIN'
  | 'DNS_NXDOMAIN'
  | 'DNS_SERVFAIL'
  | 'DNS_TIMEOUT'
  | 'HELLO_CONNECT_FAILED'
  | 'WINDOW_CLOSED'
  // setup paths (issue 10): TLS-PSK, USB setup.bin, MEBx, environment detection
  | 'PSK_NOT_SUPPORTED'
  | 'PSK_MISMATCH'
  | 'REMOTE_CONFIG_NEEDS_WIRED_LAN'
  | 'SMB_NO_REMOTE_CONFIG'
  | 'SETUP_BIN_INVALID'
  | 'SETUP_BIN_NO_RECORD'
  | 'MEBX_PASSWORD_WRONG'
  | 'OUTSIDE_HOME_DOMAIN'
  // host power (src/device/host-power.ts): the host OS is not running, so no host (MEI) command can be sent
  | 'HOST_OFF'
  // a host power off or cycle refused while a redirection session is open (reference guide, Change System Power State)
  | 'REDIRECTION_ACTIVE'
  // authentication (brute-force lockout, src/device/http/amt-http.ts)
  | 'AUTH_LOCKED_OUT'
  // input validation at the edges
  | 'BAD_INPUT'
  // a listen/bind on a port named by a flag failed: EADDRINUSE (PORT_IN_USE) or EACCES (PORT_NOT_PERMITTED)
  | 'PORT_IN_USE'
  | 'PORT_NOT_PERMITTED';

export class AmtError extends Error {
  readonly code: AmtErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: AmtErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = 'AmtError';
    this.code = code;
    this.detail = detail;
  }

  toJSON(): { code: AmtErrorCode; message: string; detail?: Record<string, unknown> } {
    return this.detail ? { code: this.code, message: this.message, detail: this.detail } : { code: this.code, message: this.message };
  }
}

export function isAmtError(e: unknown, code?: AmtErrorCode): e is AmtError {
  return e instanceof AmtError && (code === undefined || e.code === code);
}

/** Result type for checks that fail often and expectedly (certificate validation, host commands). */
export type Result<T, C extends string = AmtErrorCode> =
  | { ok: true; value: T }
  | { ok: false; code: C; message: string; detail?: Record<string, unknown> };
