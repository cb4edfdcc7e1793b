/**
 * `dockgate/client`: a typed Node client for the Docker Engine API over every transport.
 * See docs/client.md.
 */

export type { EngineEndpoint, EngineTls } from '../engine/endpoint.js';
export { defaultEngineEndpoint, parseEngineUrl } from '../engine/endpoint.js';
export type {
  HostAnswer,
  HostFilesystem,
  HostInterface,
  HostPressure,
  HostUnavailable,
} from '../engine/host/host-answer.js';
export type { Call, Filters, LogsOptions } from './api/containers.js';
export { Containers } from './api/containers.js';
export { Exec } from './api/exec.js';
export { Images, Progress } from './api/images.js';
export { System } from './api/system.js';
export { Networks, Volumes } from './api/volumes.js';
export type { ConnectionOptions } from './connection.js';
export { resolveEngine } from './connection.js';
export type { DockerClientOptions, EngineInfo, EngineResponse, RequestOptions } from './docker-client.js';
export { DockerClient } from './docker-client.js';
export {
  BadRequestError,
  ConflictError,
  ConnectionError,
  EngineError,
  ForbiddenError,
  isAbortError,
  isTimeoutError,
  NotFoundError,
  NotModifiedError,
  ProgressError,
  ServerError,
  UnauthorizedError,
  UpgradeError,
} from './errors.js';
export { registryAuthHeader, registryConfigHeader } from './registry-auth.js';
export { Session } from './session.js';
export type { OutputFrame, ProgressMessage } from './streams.js';
export { demux, jsonLines } from './streams.js';
export { CLIENT_API_VERSION } from './transport.js';
export type * from './types.js';
