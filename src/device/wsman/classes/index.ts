/** The WS-Man classes this firmware answers for, by class name (last segment of the ResourceURI). */
import type { WsmanClass } from '../types.js';
import { authorizationService } from './authorization.js';
import { optInServiceClass } from './consent.js';
import { generalSettings } from './general.js';
import { hostBasedSetupService } from './hostbased.js';
import { publicKeyCertificate, publicKeyManagementService, publicPrivateKeyPair } from './keys.js';
import { computerSystemPackageClass, ethernetPortSettings, softwareIdentity, timeSynchronizationService } from './platform.js';
import { powerClasses } from './power.js';
import { auditRecordClasses, provisioningRecordLog } from './records.js';
import { kvmRedirectionSap, kvmRedirectionSettingData, redirectionService } from './redirection.js';
import { setupAndConfigurationService } from './setup.js';
import { tlsCredentialContext, tlsSettingData } from './tls.js';

const ALL: WsmanClass[] = [
  generalSettings,
  setupAndConfigurationService,
  hostBasedSetupService,
  authorizationService,
  softwareIdentity,
  computerSystemPackageClass,
  ethernetPortSettings,
  timeSynchronizationService,
  publicKeyManagementService,
  publicKeyCertificate,
  publicPrivateKeyPair,
  tlsSettingData,
  tlsCredentialContext,
  provisioningRecordLog,
  ...auditRecordClasses,
  redirectionService,
  kvmRedirectionSap,
  kvmRedirectionSettingData,
  optInServiceClass,
  ...powerClasses,
];

export const CLASSES: Readonly<Record<string, WsmanClass>> = Object.freeze(Object.fromEntries(ALL.map((c) => [c.className, c])));
