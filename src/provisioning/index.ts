/** The reference provisioning server and OS agent, for the demo, scenarios and test suites. */
export { ProvisioningServer, defaultReverseLookup, MAX_HELLO_BYTES, type DeviceRecord, type DeviceStatus, type ProvisioningProfileConfig, type ProvisioningServerConfig } from './server.js';
export { OsAgent, type AgentReport, type AgentStatus, type OsAgentOptions } from './agent.js';
export { activateHostBased, signAdminSetupNonces, type HostBasedActivation, type HostBasedResult } from './host-based.js';
export { runRemoteConfiguration, isDigestRealmValid, COMMIT_SETTLE_MS, type RemoteConfigProfile } from './remote-config.js';
export { selectChain, type ChainMatch, type ProvisioningChain } from './chain-select.js';
export { WsmanClient, xmlEscape, type MethodResult, type WsmanClientOptions } from './wsman-client.js';
export { WsmanError, type WsmanErrorCode } from './wsman-xml.js';
export { loadProvisioningConfigFile, loadProvisioningConfigText, type ProvisioningFileConfig } from './config.js';
export type { ProvisioningEvent } from './steps.js';
