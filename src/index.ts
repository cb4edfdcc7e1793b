/**
 * dockgate as a library: run the gateway inside another Node program.
 *
 * @example
 * import { Gateway, loadServeConfig, createLogger } from 'dockgate';
 * const config = loadServeConfig({ listen: ['tcp://127.0.0.1:2375'], profile: 'full', socketMode: '0660',
 *   shutdownGrace: '10', maxHeaderSize: '65536', logLevel: 'info', insecure: false });
 * const gateway = new Gateway(config, createLogger(config.logLevel));
 * console.log(await gateway.start());
 */
export type { RawServeOptions, ServeConfig } from './config/serve-config.js';
export { loadServeConfig, SERVE_DEFAULTS } from './config/serve-config.js';
export type { EngineEndpoint } from './engine/endpoint.js';
export { defaultEngineEndpoint, parseEngineUrl } from './engine/endpoint.js';
export type { ErrorCode } from './errors.js';
export { DockgateError, ERRORS, isDockgateError } from './errors.js';
export { Gateway } from './gateway/gateway.js';
export { createLogger } from './log/logger.js';
export { DOCKGATE_VERSION } from './version.js';
