/**
 * The NVRAM image: everything a device keeps across power loss. One JSON file per device,
 * versioned by `schemaVersion`. Field names follow the AMT world (WS-Man properties, MEBx
 * menu names, PTHI commands) so a reader can map them back to the reference.
 */

export const NVRAM_SCHEMA_VERSION = 1 as const;

/** Firmware profiles: one per AMT major release that differs in behaviour we emulate. */
export type FirmwareProfileId = 'amt3' | 'amt6' | 'amt11' | 'amt12' | 'amt15' | 'amt16' | 'amt19';

/** ProvisioningState as PTHI and WS-Man number it: 0 Pre (factory), 1 In (setup), 2 Post (configured). */
export type ProvisioningState = 'Pre' | 'In' | 'Post';
export const PROVISIONING_STATE_NUMBER: Record<ProvisioningState, 0 | 1 | 2> = { Pre: 0, In: 1, Post: 2 };

/** CurrentControlMode: 0 not provisioned, 1 Client (CCM), 2 Admin (ACM). */
export type ControlMode = 'none' | 'CCM' | 'ACM';
export const CONTROL_MODE_NUMBER: Record<ControlMode, 0 | 1 | 2> = { none: 0, CCM: 1, ACM: 2 };

/** PTHI/SDK CERT_HASH_ALGORITHM values: 1 SHA-1 (20 B), 2 SHA-256 (32 B), 3 SHA-384 (48 B). */
export type HashAlgorithm = 'SHA1' | 'SHA256' | 'SHA384';
export const HASH_ALGORITHM_NUMBER: Record<HashAlgorithm, 1 | 2 | 3> = { SHA1: 1, SHA256: 2, SHA384: 3 };
export const HASH_LENGTH: Record<HashAlgorithm, number> = { SHA1: 20, SHA256: 32, SHA384: 48 };

export interface CertHashEntry {
  /** Friendly name, up to 32 bytes (SDK CFG_GetCertificateHashEntry). */
  name: string;
  algorithm: HashAlgorithm;
  /** Lower-case hex. */
  hash: string;
  /** Factory (vendor/OEM) entry; custom entries are removed by unprovision. */
  isDefault: boolean;
  isActive: boolean;
}

/** Seed 001: Enterprise sends hellos and needs TLS; SMB never sends hellos. */
export type ProvisioningMode = 'Enterprise' | 'SMB';
/** Seed 001: 'talk' sends hellos on its own; 'listen' waits for an agent to open the interface. */
export type SetupTrigger = 'talk' | 'listen';

/** The hello/remote-configuration window the firmware keeps (SDK, ITJ 2008, Altiris guide). */
export interface ConfigurationWindow {
  /** closed: interface filtered; bareMetal: first 24 h of accumulated uptime; agent: opened by StartConfiguration(Ex). */
  kind: 'closed' | 'bareMetal' | 'agent';
  /** Accumulated powered-on time inside this window (power-off pauses it). */
  elapsedMs: number;
  /** How long this window lasts in accumulated uptime. */
  lengthMs: number;
  /** Hellos sent in this window; drives the retry-count field and the schedule phase. */
  hellosSent: number;
  /** Whether the one-time 24-hour bare-metal window has been used up. */
  bareMetalUsed: boolean;
  /** True after StartConfigurationHBased: in provisioning for the local TLS session only. */
  hostBased?: boolean;
}

export interface ProvisioningServerSetting {
  /** Static IPv4 address set in MEBx/USB ("SCA static IP", locating method 1). */
  address?: string;
  /** FQDN set in MEBx/USB (locating method 2a). */
  fqdn?: string;
  /** Port the hello goes to; firmware default 9971. */
  port: number;
}

export interface TlsSettings {
  enabled: boolean;
  mutualAuthentication: boolean;
  acceptNonSecureConnections: boolean;
  trustedCn: string[];
}

export interface KeyPairRecord {
  instanceId: string;
  /** PEM (PKCS#8) of the private key; the firmware never exports it, neither do we over WS-Man. */
  privateKeyPem: string;
  /** DER of SubjectPublicKeyInfo, base64 — what AMT_PublicPrivateKeyPair.DERKey shows. */
  publicKeyDer: string;
}

export interface CertificateRecord {
  instanceId: string;
  /** base64 DER (AMT_PublicKeyCertificate.X509Certificate). */
  x509: string;
  trustedRoot: boolean;
  /** instanceId of the key pair whose public key the certificate carries, if any. */
  keyPairId?: string;
}

export interface AuditRecord {
  /** Which path provisioned the device. */
  kind: 'pki' | 'psk' | 'hostBasedCCM' | 'hostBasedACM' | 'manual' | 'usb';
  /** Wall-clock ISO time of the TLS session start / setup (virtual clock's date). */
  time: string;
  /** Virtual ms, so a timeline can link to it. */
  t: number;
  provServerFqdn?: string;
  provServerIp?: string;
  certificateCn?: string;
  selectedHashType?: HashAlgorithm;
  selectedHash?: string;
  hashIsOemDefault?: boolean;
  /** Serial numbers (hex) of up to three CA certificates, starting with the leaf. */
  caCertificateSerials?: string[];
  additionalCaSerialNums?: boolean;
  secureDns?: boolean;
  hostInitiated?: boolean;
  isTimeValid?: boolean;
}

/**
 * Redirection enablement the firmware keeps across power loss (docs/reference-user-consent.md §1–3):
 * AMT_RedirectionService, CIM_KVMRedirectionSAP and IPS_KVMRedirectionSettingData. Absent in an
 * image written before this model (the emulator then keeps its earlier behaviour: everything on);
 * every configuration writes the firmware defaults and both unprovisions remove it.
 */
export interface RedirectionSettings {
  /** AMT_RedirectionService.EnabledState: 32768 none, 32769 IDER, 32770 SOL, 32771 IDER+SOL. */
  enabledState: 32768 | 32769 | 32770 | 32771;
  /** AMT_RedirectionService.ListenerEnabled: the 16994/16995 listener. */
  listenerEnabled: boolean;
  /** CIM_KVMRedirectionSAP enabled (RequestStateChange 2) or disabled (3). */
  kvmEnabled: boolean;
  /** Last CIM_KVMRedirectionSAP.RequestStateChange value; 5 "No Change" until one is made. */
  kvmRequestedState: number;
  /** IPS_KVMRedirectionSettingData.Is5900PortEnabled (native RFB port). */
  is5900PortEnabled: boolean;
  /** IPS_KVMRedirectionSettingData.SessionTimeout (minutes). */
  kvmSessionTimeout: number;
  /** IPS_KVMRedirectionSettingData.RFBPassword (write-only over WS-Man); '' when never set. */
  rfbPassword: string;
}

/** IPS_OptInService settings (docs/reference-user-consent.md §4). */
export interface UserConsentSettings {
  /** OptInRequired: 0 none, 1 KVM, 4294967295 all. Read-only (forced) in CCM. */
  optInRequired: 0 | 1 | 4294967295;
  /** CanModifyOptInPolicy (MEBx "Opt-in Configurable from Remote IT"). */
  canModifyOptInPolicy: boolean;
  /** OptInCodeTimeout, seconds (60–900): idle time after which a received consent expires. */
  optInCodeTimeout: number;
  /** OptInDisplayTimeout, seconds (10–4095): how long the code stays on the screen. */
  optInDisplayTimeout: number;
}

export interface NvramImage {
  schemaVersion: typeof NVRAM_SCHEMA_VERSION;
  /** Short stable id the emulator uses (file name, API path, timeline). */
  deviceId: string;
  /** SMBIOS system UUID, canonical lower-case 8-4-4-4-12 text. */
  uuid: string;
  firmware: {
    profile: FirmwareProfileId;
    /** e.g. "16.1.25.2124" — shown in the Server header and CIM_SoftwareIdentity. */
    version: string;
  };
  /** Wired MAC first, colon-separated lower-case; empty for a wireless-only platform. */
  macs: string[];
  network: {
    /** Host name (MEBx / GeneralSettings HostName). */
    hostname: string;
    /** Domain name set in MEBx (GeneralSettings DomainName); '' when none. */
    domain: string;
    /** Whether the platform has a wired LAN port (remote configuration needs it). */
    wiredLan: boolean;
  };
  provisioning: {
    state: ProvisioningState;
    controlMode: ControlMode;
    mode: ProvisioningMode;
    trigger: SetupTrigger;
    /** OEM remote-configuration timer in hours (HP ships 0 = never send hellos). */
    remoteConfigTimerHours: number;
    zeroTouchEnabled: boolean;
    window: ConfigurationWindow;
  };
  setup: {
    /** MEBx "PKI DNS Suffix" (TrustedDNSSuffix); '' when not set. */
    pkiDnsSuffix: string;
    provisioningServer: ProvisioningServerSetting;
    /** One-time password, hex; required by the SCA when set (SetProvisioningServerOTP). */
    otp?: string;
    /** TLS-PSK provisioning identity/secret (seed 001/002), as printed on setup sheets. */
    pid?: string;
    pps?: string;
    /** Trusted "home" domains for environment detection (seed 004). */
    homeDomains: string[];
    /** ME Provision Halt Active (setup.bin var 28). */
    provisionHalt: boolean;
  };
  mebx: {
    password: string;
    /** True once the default 'admin' has been changed (factory → setup on AMT 6+ firmware). */
    passwordChanged: boolean;
  };
  /** The AMT admin account (SetAdminAclEntryEx): user name and MD5(user:realm:password) hex. */
  adminAcl: {
    username: string;
    digestHash?: string;
  };
  /** HTTP digest realm "Digest:<32 hex>", same as AMT_GeneralSettings.DigestRealm. */
  digestRealm: string;
  /** Local system account used by host agents pre-provisioning ($$OsAdmin). */
  localSystemAccount: { username: string; password: string };
  /** IPS_HostBasedSetupService.ConfigurationNonce, base64 of 20 bytes. */
  configurationNonce: string;
  certHashes: CertHashEntry[];
  tls: {
    remote: TlsSettings;
    local: TlsSettings;
    keyPairs: KeyPairRecord[];
    certificates: CertificateRecord[];
    /** instanceId of the certificate bound by AMT_TLSCredentialContext, if any. */
    credentialContext?: string;
  };
  /** IPS_ProvisioningRecordLog: the last setup audit record (one record, like firmware). */
  auditRecord: AuditRecord | null;
  /** Redirection enablement (optional: see RedirectionSettings). */
  redirection?: RedirectionSettings;
  /** User consent policy (optional: see UserConsentSettings). */
  userConsent?: UserConsentSettings;
  /** Counter bumped by every persisted change (a cheap version for snapshots and tests). */
  generation: number;
}
