/**
 * dockgate as a library: run the gateway inside another Node program.
 *
 * @example
 * import { Gateway, loadServeConfig, createLogger, createPolicyRuntime } from 'dockgate';
 * const config = loadServeConfig({ listen: ['tcp://127.0.0.1:2375'], profile: 'read-only', socketMode: '0660',
 *   shutdownGrace: '10', maxHeaderSize: '65536', logLevel: 'info', insecure: false });
 * const log = createLogger(config.logLevel);
 * const policy = createPolicyRuntime(config, log);
 * const gateway = new Gateway(config, log, policy.gatekeeper, policy.access);
 * console.log(await gateway.start());
 *
 * // Or only decide: the same pure functions `dockgate policy explain` uses.
 * import { compilePolicy, decideHead } from 'dockgate';
 */
export type { RawServeOptions, ServeConfig } from './config/serve-config.js';
export { loadServeConfig, SERVE_DEFAULTS } from './config/serve-config.js';
export type { EngineEndpoint } from './engine/endpoint.js';
export { defaultEngineEndpoint, parseEngineUrl } from './engine/endpoint.js';
export type { ErrorCode } from './errors.js';
export { DockgateError, ERRORS, isDockgateError } from './errors.js';
export type { Gate, GateRequest, Ruling } from './gateway/gate.js';
export { Gateway } from './gateway/gateway.js';
export { createLogger } from './log/logger.js';
export type { BodyOutcome, Decision, Denial, HeadOutcome } from './policy/decide.js';
export { decide, decideBody, decideHead } from './policy/decide.js';
export { Gatekeeper } from './policy/gatekeeper.js';
export type { Policy, PolicySpec } from './policy/policy.js';
export { compilePolicy } from './policy/policy.js';
export type { Profile, ProfileSpec } from './policy/profile.js';
export { BUILTIN_PROFILES } from './policy/profile.js';
export type { PolicyRuntime } from './policy/runtime.js';
export { createPolicyRuntime } from './policy/runtime.js';
export { DOCKGATE_VERSION } from './version.js';
