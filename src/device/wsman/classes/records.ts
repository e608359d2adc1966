/**
 * The setup audit record as WS-Man shows it (reference §4.4): IPS_ProvisioningRecordLog
 * (one record, InstanceID 'Intel(r) AMT: RecordLog 1') and the IPS_*ProvisioningRecord
 * subclass that fits how the device was provisioned.
 */
import { HASH_ALGORITHM_NUMBER, type AuditRecord } from '../../../nvram/image.js';
import { Faults } from '../faults.js';
import type { Instance } from '../envelope.js';
import { instance, type WsmanClass, type WsmanContext } from '../types.js';

function recordLog() {
  return instance('IPS_ProvisioningRecordLog', {
    CreationClassName: 'IPS_ProvisioningRecordLog',
    ElementName: 'Intel(r) AMT: RecordLog 1',
    EnabledState: 2,
    InstanceID: 'Intel(r) AMT: RecordLog 1',
    MaxNumberOfRecords: 1,
    Name: 'Intel(r) AMT: RecordLog 1',
    OverwritePolicy: 7,
    RequestedState: 12,
  });
}

/** CIM datetime for CreationTimeStamp. */
function datetime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, 'Z');
}

function serials(a: AuditRecord): string[] | undefined {
  return a.caCertificateSerials?.map((s) => Buffer.from(s.length % 2 ? `0${s}` : s, 'hex').toString('base64'));
}

export function auditInstance(a: AuditRecord): Instance {
  const common = {
    CreationTimeStamp: datetime(a.time),
    ElementName: 'Intel(r) AMT: Provisioning Record',
    InstanceID: 'Intel(r) AMT: Provisioning Record 1',
    LogInstanceID: 'Intel(r) AMT: RecordLog 1',
    RecordData: a.kind,
  };
  const hash = a.selectedHash ? Buffer.from(a.selectedHash, 'hex').toString('base64') : undefined;
  const hashType = a.selectedHashType ? HASH_ALGORITHM_NUMBER[a.selectedHashType] : undefined;
  if (a.kind === 'pki' || a.kind === 'psk') {
    return instance('IPS_TLSProvisioningRecord', {
      ...common,
      // [CONFLICT] §4.4: 1 PKI / 2 PSK per AMT_SetupAuditRecord.mof.
      ProvisioningTLSMode: a.kind === 'pki' ? 1 : 2,
      SecureDNS: a.secureDns ?? false,
      HostInitiated: a.hostInitiated ?? false,
      ProvServerFQDN: a.provServerFqdn,
      SelectedHashType: hashType,
      SelectedHashData: hash,
      CaCertificateSerials: serials(a),
      AdditionalCaSerialNums: a.additionalCaSerialNums ?? false,
      HashIsOemDefault: a.hashIsOemDefault ?? false,
      IsTimeValid: a.isTimeValid ?? true,
      ProvServerIP: a.provServerIp,
    });
  }
  if (a.kind === 'hostBasedACM') {
    return instance('IPS_AdminProvisioningRecord', {
      ...common,
      SecureDNS: a.secureDns ?? false,
      CertificateCN: a.certificateCn,
      SelectedHashType: hashType,
      SelectedHashData: hash,
      CaCertificateSerials: serials(a),
      AdditionalCaSerialNums: a.additionalCaSerialNums ?? false,
      HashIsOemDefault: a.hashIsOemDefault ?? false,
    });
  }
  if (a.kind === 'hostBasedCCM') return instance('IPS_ClientProvisioningRecord', { ...common });
  return instance('IPS_ManualProvisioningRecord', { ...common });
}

function records(ctx: WsmanContext): Instance[] {
  const a = ctx.device.nvram.auditRecord;
  return a ? [auditInstance(a)] : [];
}

export const provisioningRecordLog: WsmanClass = {
  className: 'IPS_ProvisioningRecordLog',
  get: () => recordLog(),
  enumerate: () => [recordLog()],
};

function recordClass(className: string): WsmanClass {
  const mine = (ctx: WsmanContext) => records(ctx).filter((i) => className === 'IPS_ProvisioningAuditRecord' || i.className === className);
  return {
    className,
    enumerate: mine,
    get: (ctx) => mine(ctx)[0] ?? Faults.invalidSelectors('No provisioning record of this kind.'),
  };
}

export const auditRecordClasses: WsmanClass[] = [
  'IPS_ProvisioningAuditRecord',
  'IPS_TLSProvisioningRecord',
  'IPS_AdminProvisioningRecord',
  'IPS_ClientProvisioningRecord',
  'IPS_ManualProvisioningRecord',
].map(recordClass);
