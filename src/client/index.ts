/**
 * `dockgate/client`: a typed Node client for the Docker Engine API over every transport.
 */

export type { EngineEndpoint, EngineTls } from '../engine/endpoint.js';
export { defaultEngineEndpoint, parseEngineUrl } from '../engine/endpoint.js';
export type { DockerClientOptions, EngineResponse, EngineVersion, RequestOptions } from './docker-client.js';
export { DockerClient } from './docker-client.js';
export { EngineError } from './engine-error.js';
