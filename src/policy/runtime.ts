import { openAuditFile } from '../audit/audit-file.js';
import { DockerClient } from '../client/docker-client.js';
import type { ServeConfig } from '../config/serve-config.js';
import { type AccessLog, accessLogFor } from '../gateway/access-log.js';
import type { Logger } from '../log/logger.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import { Gatekeeper } from './gatekeeper.js';
import { Learner } from './learn.js';
import { PolicyReloader } from './reloader.js';

/** Everything access control needs at run time, built from a ServeConfig. */
export interface PolicyRuntime {
  readonly gatekeeper: Gatekeeper;
  readonly reloader: PolicyReloader;
  readonly access: AccessLog;
  /** An Engine API client for owner lookups and readiness. */
  readonly engine: DockerClient;
  close(): Promise<void>;
}

export function createPolicyRuntime(
  config: ServeConfig,
  log: Logger,
  metrics?: GatewayMetrics,
): PolicyRuntime {
  const engine = new DockerClient({ engine: config.upstream });
  const learner = config.learn === undefined ? undefined : new Learner(config.learn);
  const gatekeeper = new Gatekeeper(config.policy, {
    engine,
    log,
    learner,
    hostRoot: config.hostRoot,
    onOpen: metrics === undefined ? undefined : (delta) => metrics.open(delta),
  });
  const reloader = new PolicyReloader(config.policySource, gatekeeper, log, (ok, generation) =>
    metrics?.reloaded(ok, generation),
  );
  reloader.watch();
  const audit =
    config.audit.file === undefined
      ? undefined
      : openAuditFile(config.audit.file, config.audit.maxSize, config.audit.keep);
  const lines = accessLogFor(log, audit);
  const access: AccessLog =
    metrics === undefined
      ? lines
      : (entry) => {
          lines(entry);
          metrics.observe(entry);
        };
  return {
    gatekeeper,
    reloader,
    access,
    engine,
    async close() {
      reloader.close();
      gatekeeper.close();
      learner?.flush();
      await audit?.close();
      await engine.close();
    },
  };
}
