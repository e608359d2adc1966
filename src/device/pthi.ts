/**
 * PTHI (AMT host interface over MEI/HECI) status codes and command codes, as Intel's LMS
 * headers and rpc-go number them (reference §2.2).
 */
export const PthiStatus = {
  SUCCESS: 0,
  INTERNAL_ERROR: 1,
  NOT_READY: 2,
  INVALID_AMT_MODE: 3,
  INVALID_MESSAGE_LENGTH: 4,
  NOT_PERMITTED: 16,
  MAX_LIMIT_REACHED: 23,
  INVALID_PARAMETER: 36,
  RNG_GENERATION_IN_PROGRESS: 47,
  RNG_NOT_READY: 48,
  CERTIFICATE_NOT_READY: 49,
  INVALID_HANDLE: 2053,
  NOT_FOUND: 2068,
} as const;
export type PthiStatusCode = (typeof PthiStatus)[keyof typeof PthiStatus];

export function pthiStatusName(code: number): string {
  for (const [k, v] of Object.entries(PthiStatus)) if (v === code) return k;
  return `STATUS_${code}`;
}

export const PthiCommand = {
  CFG_Unprovision: 0x04000010,
  CFG_GetProvisioningState: 0x04000011,
  CFG_StartConfiguration: 0x04000029,
  SET_PROVISIONING_SERVER_OTP: 0x0400002a,
  CFG_EnumerateHashHandles: 0x0400002c,
  CFG_GetCertificateHashEntry: 0x0400002d,
  CFG_SetPkiFQDNSuffix: 0x0400002f,
  CFG_GetZeroTouchEnabled: 0x04000030,
  CFG_GetPkiFQDNSuffix: 0x04000036,
  CFG_GetConfigServerData: 0x0400004e,
  CFG_GetMESetupAuditRecord: 0x04000050,
  CFG_GetUUID: 0x0400005c,
  CFG_StopConfiguration: 0x0400005e,
  CFG_StartConfigurationEx: 0x04000062,
  CFG_GetLocalSystemAccount: 0x04000067,
  CFG_GetControlMode: 0x0400006b,
  CFG_StartConfigurationHBased: 0x0400008b,
} as const;
