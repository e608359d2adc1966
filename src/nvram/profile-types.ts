import type { FirmwareProfileId, HashAlgorithm } from './image.js';

/**
 * What differs between AMT releases, as data. Behaviour code asks the profile ("may this
 * hash algorithm be added?", "is 16992 open remotely?") instead of testing version numbers.
 * The table itself lives in profiles.ts with a source for every value.
 */
export interface FirmwareProfile {
  id: FirmwareProfileId;
  /** AMT major release (3, 6, 11, 12, 15, 16, 19). */
  amtMajor: number;
  /** Default firmware version string for the Server header and CIM_SoftwareIdentity. */
  defaultVersion: string;
  hashes: {
    /** Algorithms that may be stored/added in the trusted-root hash table. */
    allowed: HashAlgorithm[];
    /** Factory default entries of these algorithms are present (SHA-1 defaults removed in ME 11). */
    defaultAlgorithms: HashAlgorithm[];
    /** Total capacity (default + custom); reference §4.1. */
    capacity: number;
    /** How many custom (user-added) entries may exist. */
    maxCustom: number;
    /** Most hashes a hello carries (SDK: 23 for backward compatibility). */
    maxInHello: number;
  };
  certificates: {
    /** SHA-1 anywhere in the provisioning chain is refused (ME 15 H / 16+). */
    sha1Banned: boolean;
    minRsaKeyBits: number;
    /** Longest provisioning chain accepted (leaf..root). Reference §4.3 [UNKNOWN]: documented choice. */
    maxChainLength: number;
  };
  hello: {
    /** PKI hello (version 3) is sent. */
    pki: boolean;
    /** PSK hello (interface version 2) is sent when PID/PPS are set; removed in AMT 11. */
    psk: boolean;
  };
  network: {
    /** 16992/16994/623 answer remotely (gone from CSME 16.1 on remote, 19 everywhere). */
    nonTlsRemotePorts: boolean;
    /** TLS enforced on local ports too (CSME 19; MKHI bit 0x40). */
    tlsEnforcedLocal: boolean;
    /** TLS protocol versions the listeners accept. */
    tlsVersions: Array<'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'>;
  };
  setup: {
    /** Host-based setup (IPS_HostBasedSetupService) exists (AMT 7+). */
    hostBased: boolean;
    /** AdminSetup over the non-TLS local port (removed in CSME 19). */
    hostBasedAdminSetup: boolean;
    /**
     * Secure host-based ACM: PTHI CFG_StartConfigurationHBased and the local mutual-TLS session
     * on 16993 with the pinned server leaf hash (reference §5.4, "CSME 14+").
     */
    hostBasedTls: boolean;
    /** TLS-PSK remote configuration with PID/PPS. */
    tlsPsk: boolean;
    /** ExtendProvisioningPeriod maximum hours per call. */
    maxExtendHours: number;
  };
}
