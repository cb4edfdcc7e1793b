import { HOST_ROUTE, HostEndpoint } from '../agent/host-endpoint.js';
import { AGENT_LOGS_ROUTE, LogsEndpoint } from '../agent/logs-endpoint.js';
import { RunningSet } from '../agent/running-set.js';
import { StatsEndpoint } from '../agent/stats-endpoint.js';
import { hashToken } from '../auth/tokens.js';
import type { DockerClient } from '../client/docker-client.js';
import { EngineError } from '../client/errors.js';
import { HostReader } from '../engine/host/host-reader.js';
import type {
  AuditFields,
  ConnectionInfo,
  Forward,
  Gate,
  GateRequest,
  Refuse,
  Ruling,
} from '../gateway/gate.js';
import type { Logger } from '../log/logger.js';
import {
  type BodyOutcome,
  type Denial,
  decideBody,
  decideTarget,
  decideVolume,
  type HeadOutcome,
  refusal,
} from './decide.js';
import { type GoObject, parseGoJson } from './go-json.js';
import { HeadMemo } from './head-memo.js';
import type { Learner } from './learn.js';
import { OWNER_LABEL, type OwnerCheck, ownerOf, withLabel } from './ownership.js';
import { addressAllowed, type Identity, type Policy } from './policy.js';
import type { Profile } from './profile.js';
import { Limits } from './rate-limit.js';
import { redactEnv } from './redact.js';
import { type TargetCheck, UNCHECKED_VOLUMES_LABEL } from './references.js';
import { routeClass } from './routes.js';
import { TargetInspector, type TargetInspectorOptions, type TargetLookup } from './target-facts.js';

/** Who is calling, as resolved for one request. */
interface Caller {
  readonly name: string;
  readonly profile: Profile;
  readonly identity: Identity | undefined;
}

export interface GatekeeperOptions {
  readonly engine: DockerClient;
  readonly log: Logger;
  readonly learner?: Learner | undefined;
  /** Requests decided and forwarded but not yet over (the admin listener's open-streams gauge). */
  readonly onOpen?: ((delta: 1 | -1) => void) | undefined;
  /** How containers that requests reach into are looked up (cache TTL, events). */
  readonly targets?: TargetInspectorOptions | undefined;
  /** Where the host's root filesystem is mounted here (`--host-root`; `/` on the host itself). */
  readonly hostRoot?: string | undefined;
}

/** What the target stage found: a refusal, and what the audit line records. */
interface TargetOutcome {
  readonly denial: Denial | undefined;
  /** "exec create → traefik (3f2a…)", for the audit line. */
  readonly target: string | undefined;
  readonly escape: string | undefined;
  /** Named volumes a create mounts that did not exist when checked: labelled for `start` (issue 22). */
  readonly missingVolumes?: readonly string[];
}

/**
 * The gate of a policy: resolves the caller (token, client certificate, listener default),
 * applies source-address lists, rate and concurrency limits, and the profile's decision, and
 * looks owners up in the engine when the profile keeps objects apart. The policy can be swapped
 * at any time (reload); each request decides on the policy it started with.
 */
export class Gatekeeper implements Gate {
  #policy: Policy;
  readonly #engine: DockerClient;
  readonly #log: Logger;
  readonly #limits = new Limits();
  readonly #learner: Learner | undefined;
  readonly #onOpen: (delta: 1 | -1) => void;
  readonly #targets: TargetInspector;
  readonly #statsEndpoint: StatsEndpoint;
  readonly #logsEndpoint: LogsEndpoint;
  readonly #hostEndpoint: HostEndpoint;
  readonly #running: RunningSet;
  readonly #heads: HeadMemo;
  /**
   * Asked when a token is unknown: re-reads the token file if it changed since it was read, and
   * says whether the policy was replaced — so a token added a moment ago works on its first
   * request, before the file watcher's reload (and where no watcher fires: some volumes).
   */
  tokensChanged: () => boolean = () => false;

  constructor(policy: Policy, options: GatekeeperOptions) {
    this.#policy = policy;
    this.#engine = options.engine;
    this.#log = options.log;
    this.#learner = options.learner;
    this.#onOpen = options.onOpen ?? (() => {});
    this.#targets = new TargetInspector(options.engine, options.log, options.targets);
    // One events subscription says which containers run, for the stats and the followed logs.
    this.#running = new RunningSet(options.engine);
    this.#statsEndpoint = new StatsEndpoint(options.engine, undefined, this.#running);
    this.#logsEndpoint = new LogsEndpoint(options.engine, this.#running);
    this.#hostEndpoint = new HostEndpoint(options.engine, new HostReader({ root: options.hostRoot ?? '/' }));
    this.#heads = new HeadMemo(options.learner !== undefined);
  }

  /** Stops the target inspector's events subscription. */
  close(): void {
    this.#targets.close();
    this.#running.close();
  }

  get policy(): Policy {
    return this.#policy;
  }

  /** Swaps in a new policy, whole. Requests already decided keep their rulings. */
  swap(policy: Policy): void {
    this.#policy = policy;
  }

  check(request: GateRequest): Ruling | Promise<Ruling> {
    let policy = this.#policy;
    const { conn } = request;
    const listener = policy.listeners.get(conn.listener);
    if (listener === undefined)
      return this.#refuse(request, undefined, {
        ...refusal('DG_FORBIDDEN'),
        reason: `listener ${conn.listener} has no policy`,
        rule: 'listener',
      });
    if (!addressAllowed(listener.allowFrom, conn.remoteAddress)) {
      return this.#refuse(request, undefined, {
        ...refusal('DG_FORBIDDEN'),
        reason: `address ${conn.remoteAddress ?? 'unix'} may not use ${conn.listener}`,
        rule: 'listener-allow-from',
      });
    }
    let resolved = resolveCaller(policy, request.authorization, conn);
    if ('status' in resolved && resolved.reason === UNKNOWN_TOKEN && this.tokensChanged()) {
      policy = this.#policy;
      resolved = resolveCaller(policy, request.authorization, conn);
    }
    if ('status' in resolved) return this.#refuse(request, undefined, resolved);
    const caller: Caller =
      resolved.identity === undefined
        ? { name: 'anonymous', profile: listener.profile, identity: undefined }
        : { name: resolved.identity.name, profile: resolved.identity.profile, identity: resolved.identity };
    if (caller.identity !== undefined && !addressAllowed(caller.identity.allowFrom, conn.remoteAddress)) {
      return this.#refuse(request, caller, {
        ...refusal('DG_FORBIDDEN'),
        reason: `identity ${caller.name} may not connect from ${conn.remoteAddress ?? 'a unix socket'}`,
        rule: 'identity-allow-from',
      });
    }
    const rate = caller.identity?.rateLimit ?? caller.profile.rateLimit;
    if (rate !== undefined && !this.#limits.take(caller.name, rate)) {
      return this.#refuse(request, caller, {
        ...refusal('DG_RATE_LIMITED'),
        reason: `rate limit of ${rate.perSecond}/s for ${caller.name} exceeded`,
        rule: 'rate-limit',
      });
    }
    const head = this.#heads.decide(caller.profile, request.method, request.target, request.hasBody);
    if (head.kind === 'deny') return this.#refuse(request, caller, head.denial, head.normalised?.path);
    if (!head.needsBody) return this.#afterBody(request, caller, head, undefined);
    return {
      kind: 'body',
      limit: caller.profile.bodyLimit,
      audit: audit(
        request,
        caller,
        head.normalised.path,
        'deny',
        'body-limit',
        'request body too large',
        'DG_BODY_TOO_LARGE',
      ),
      decide: (body) => this.#afterBody(request, caller, head, body),
    };
  }

  #afterBody(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    body: Buffer | undefined,
  ): Ruling | Promise<Ruling> {
    const outcome = decideBody(caller.profile, head, body, caller.name);
    if (outcome.kind === 'deny') return this.#refuse(request, caller, outcome.denial, head.normalised.path);
    if (head.route?.route.name === 'GET /dockgate/v1/stats')
      return this.#stats(request, caller, head, outcome);
    if (head.route?.route.name === HOST_ROUTE) return this.#host(request, caller, head);
    const { ownerChecks, targetChecks } = outcome.effects;
    if (ownerChecks.length === 0 && targetChecks.length === 0)
      return this.#pass(request, caller, head, outcome, outcome.wouldDeny);
    if (ownerChecks.length === 0) {
      // Every target already known: decide now, without a promise (the proxy path's fast case).
      const found = this.#targetsNow(targetChecks, caller.profile);
      if (found !== undefined)
        return this.#afterTargets(request, caller, head, outcome, outcome.wouldDeny, found, body);
    }
    return this.#lookups(request, caller, head, outcome, body);
  }

  /** The target stage from cached facts alone; undefined when one of them must be looked up. */
  #targetsNow(checks: readonly TargetCheck[], profile: Profile): TargetOutcome | undefined {
    for (const check of checks) {
      const lookup = this.#targets.cached(check);
      if (lookup === undefined || lookup.kind === 'missing') return undefined;
      const refused = judgeTarget(profile, check, lookup);
      if (refused !== undefined) return refused;
    }
    return ALLOWED_TARGETS;
  }

  #afterTargets(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    outcome: Extract<BodyOutcome, { kind: 'allow' }>,
    wouldDeny: Denial | undefined,
    found: TargetOutcome,
    body: Buffer | undefined,
  ): Ruling {
    if (found.denial !== undefined) {
      if (caller.profile.mode === 'enforce')
        return this.#refuse(request, caller, found.denial, head.normalised.path, found);
      return this.#forward(request, caller, head, outcome, wouldDeny ?? found.denial, found);
    }
    const missing = found.missingVolumes ?? [];
    if (missing.length === 0) return this.#forward(request, caller, head, outcome, wouldDeny, found);
    if (head.route?.route.name !== 'POST /containers/create') {
      // The legacy start body (API < 1.24) would have the engine create them after the check, with
      // no later moment to judge them: refused.
      const denial: Denial = {
        ...refusal('DG_FORBIDDEN'),
        reason: `volume ${missing.join(', ')} does not exist: create it first (a start body's volumes cannot be checked after the engine creates them)`,
        rule: 'host-escape',
      };
      if (caller.profile.mode === 'enforce')
        return this.#refuse(request, caller, denial, head.normalised.path);
      return this.#forward(request, caller, head, outcome, wouldDeny ?? denial, found);
    }
    // The engine creates them plain, unless someone creates one with bind options first: the
    // container says which, and its start judges them as they are then (references.ts).
    const created = parseGoJson(outcome.effects.body ?? body ?? Buffer.from('{}')) as GoObject;
    const labelled: Extract<BodyOutcome, { kind: 'allow' }> = {
      ...outcome,
      effects: { ...outcome.effects, body: withLabel(created, UNCHECKED_VOLUMES_LABEL, missing.join(',')) },
    };
    return this.#forward(request, caller, head, labelled, wouldDeny, found);
  }

  /** Owner lookups first (a stranger's container is "No such container"), then target checks. */
  async #lookups(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    outcome: Extract<BodyOutcome, { kind: 'allow' }>,
    body: Buffer | undefined,
  ): Promise<Ruling> {
    let wouldDeny = outcome.wouldDeny;
    const enforce = caller.profile.mode === 'enforce';
    if (outcome.effects.ownerChecks.length > 0) {
      const notOwned = await this.#checkOwners(outcome.effects.ownerChecks, caller.name);
      if (notOwned !== undefined) {
        const denial: Denial = { ...refusal('DG_NOT_OWNED'), reason: notOwned, rule: 'ownership' };
        if (enforce) return this.#refuse(request, caller, denial, head.normalised.path);
        wouldDeny ??= denial;
      }
    }
    if (outcome.effects.targetChecks.length === 0)
      return this.#pass(request, caller, head, outcome, wouldDeny);
    const found = await this.#checkTargets(outcome.effects.targetChecks, caller.profile);
    return this.#afterTargets(request, caller, head, outcome, wouldDeny, found, body);
  }

  /**
   * `GET /dockgate/v1/stats`: answered by the gateway itself, with the filters the caller sent
   * (and, under ownership, the owner label added to them, as for `GET /containers/json`).
   */
  async #stats(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    outcome: Extract<BodyOutcome, { kind: 'allow' }>,
  ): Promise<Ruling> {
    const target = outcome.effects.target ?? head.normalised.canonicalTarget;
    const query = new URLSearchParams(target.includes('?') ? target.slice(target.indexOf('?') + 1) : '');
    const { status, body } = await this.#statsEndpoint
      .answer(query.get('filters') ?? undefined)
      .catch((error: unknown) => ({
        status: 502,
        body: {
          message: `dockgate: the engine could not be asked for its containers: ${(error as Error).message}`,
        },
      }));
    return ownAnswer(request, caller, head, status, body);
  }

  /**
   * `GET /dockgate/v1/host`: the engine's machine, read here (agent/host-endpoint.ts). The same
   * facts for every caller the profile allows (like `/info`): nothing in it belongs to one owner.
   */
  async #host(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
  ): Promise<Ruling> {
    const { status, body } = await this.#hostEndpoint.answer();
    return ownAnswer(request, caller, head, status, body);
  }

  /** Allowed, owners checked: forwarded to the engine, or answered by the gateway's own endpoint. */
  #pass(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    outcome: Extract<BodyOutcome, { kind: 'allow' }>,
    wouldDeny: Denial | undefined,
  ): Ruling | Promise<Ruling> {
    if (head.route?.route.name === AGENT_LOGS_ROUTE) return this.#agentLogs(request, caller, head, wouldDeny);
    return this.#forward(request, caller, head, outcome, wouldDeny);
  }

  /**
   * `GET /dockgate/v1/containers/{id}/logs`: the container's log read from its files here
   * (agent/logs-endpoint.ts), once the caller may read that container's logs.
   */
  async #agentLogs(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    wouldDeny: Denial | undefined,
  ): Promise<Ruling> {
    // A followed log holds a file and a watcher: it counts against the caller's concurrency as a
    // forwarded request does, until the answer ends.
    const release = this.#slot(request, caller, head);
    if (typeof release !== 'function') return release;
    const target = head.normalised.canonicalTarget;
    const query = new URLSearchParams(target.includes('?') ? target.slice(target.indexOf('?') + 1) : '');
    let answer: Awaited<ReturnType<LogsEndpoint['answer']>>;
    try {
      answer = await this.#logsEndpoint.answer(head.route?.params.id ?? '', query);
    } catch (error) {
      release();
      throw error;
    }
    if (Buffer.isBuffer(answer.body)) release();
    else answer.body.once('close', release);
    const line = passedAudit(request, caller, head, wouldDeny);
    return {
      kind: 'answer',
      status: answer.status,
      contentType: answer.contentType,
      body: answer.body,
      audit: line,
    };
  }

  /** The first target that holds an escape (or cannot be checked) refuses; lookups run in order. */
  async #checkTargets(checks: readonly TargetCheck[], profile: Profile): Promise<TargetOutcome> {
    const missingVolumes: string[] = [];
    for (const check of checks) {
      let lookup: Awaited<ReturnType<TargetInspector['lookup']>>;
      try {
        lookup = await this.#targets.lookup(check);
      } catch (error) {
        const what = check.kind === 'volume' ? 'volume' : 'container';
        const reason = `${check.via}: ${what} ${check.ref} could not be checked for host escapes (${(error as Error).message}); refused`;
        this.#log.warn({ err: (error as Error).message, ref: check.ref }, 'target lookup failed');
        return {
          denial: { ...refusal('DG_TARGET_UNCHECKED'), reason, rule: 'lateral-movement' },
          target: `${check.via} → ${check.ref}`,
          escape: undefined,
        };
      }
      if (lookup.kind === 'missing') {
        if (check.kind === 'volume' && !missingVolumes.includes(check.ref)) missingVolumes.push(check.ref);
        continue;
      }
      const refused = judgeTarget(profile, check, lookup);
      if (refused !== undefined) return refused;
    }
    return missingVolumes.length === 0 ? ALLOWED_TARGETS : { ...ALLOWED_TARGETS, missingVolumes };
  }

  #forward(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
    outcome: Extract<BodyOutcome, { kind: 'allow' }>,
    wouldDeny: Denial | undefined,
    targets?: TargetOutcome,
  ): Ruling {
    const release = this.#slot(request, caller, head);
    if (typeof release !== 'function') return release;
    this.#learner?.record(
      caller.name,
      caller.profile.name,
      request.method,
      head.normalised.path,
      outcome.features,
    );
    this.#onOpen(1);
    // warn: the same as audit on the wire, plus a log line at warn level for each would-be denial.
    if (wouldDeny !== undefined && caller.profile.mode === 'warn') {
      this.#log.warn(
        {
          req: request.id,
          identity: caller.name,
          profile: caller.profile.name,
          rule: wouldDeny.rule,
          reason: wouldDeny.reason,
        },
        'would deny (warn mode)',
      );
    }
    const effects = outcome.effects;
    const line = passedAudit(request, caller, head, wouldDeny);
    const forward: Forward = {
      kind: 'forward',
      audit:
        targets?.target === undefined ? line : { ...line, target: targets.target, escape: targets.escape },
      target: effects.target,
      body: effects.body,
      transform: effects.redactEnv ? redactEnv : undefined,
      done: () => {
        release();
        this.#onOpen(-1);
      },
    };
    return forward;
  }

  /** A slot of the caller's concurrency (its release), or the refusal when none is free. */
  #slot(
    request: GateRequest,
    caller: Caller,
    head: Extract<HeadOutcome, { kind: 'allow' }>,
  ): (() => void) | Refuse {
    const release = this.#limits.enter(
      caller.name,
      caller.identity?.concurrency ?? caller.profile.concurrency,
    );
    if (release !== undefined) return release;
    const denial: Denial = {
      ...refusal('DG_RATE_LIMITED'),
      reason: `too many requests in flight for ${caller.name}`,
      rule: 'concurrency',
    };
    return this.#refuse(request, caller, denial, head.normalised.path);
  }

  #refuse(
    request: GateRequest,
    caller: Caller | undefined,
    denial: Denial,
    npath?: string,
    targets?: TargetOutcome,
  ): Refuse {
    const line = audit(
      request,
      caller,
      npath ?? request.target.split('?')[0] ?? '',
      'deny',
      denial.rule,
      denial.reason,
      denial.code,
    );
    return {
      kind: 'refuse',
      status: denial.status,
      message: denial.reason,
      audit:
        targets?.target === undefined ? line : { ...line, target: targets.target, escape: targets.escape },
    };
  }

  /** Resolves to undefined when `owner` owns every object, else a Docker-like "No such …". */
  async #checkOwners(checks: readonly OwnerCheck[], owner: string): Promise<string | undefined> {
    for (const check of checks) {
      let found = await this.#ownerOfObject(check);
      if (found === NOT_FOUND && check.createIfMissing === true) {
        // Created now with the caller's label (the engine would make it nobody's), then asked
        // again: if someone else made it first, it is theirs and refused.
        await this.#createOwnedVolume(check.id, owner);
        found = await this.#ownerOfObject(check);
      }
      if (found !== owner)
        return `No such ${check.kind === 'exec' ? 'exec instance' : check.kind}: ${check.id}`;
    }
    return undefined;
  }

  /** A plain local volume with the owner label; an error is logged (the owner check then refuses). */
  async #createOwnedVolume(name: string, owner: string): Promise<void> {
    try {
      await this.#engine.json('POST', '/volumes/create', {
        body: { Name: name, Driver: 'local', Labels: { [OWNER_LABEL]: owner } },
      });
    } catch (error) {
      this.#log.warn({ err: (error as Error).message, volume: name }, 'owned volume create failed');
    }
  }

  /** The owner label of an object, read from the engine now (never cached); NOT_FOUND on 404. */
  async #ownerOfObject(check: OwnerCheck): Promise<string | undefined | typeof NOT_FOUND> {
    const id = encodeURIComponent(check.id);
    const path =
      check.kind === 'container'
        ? `/containers/${id}/json`
        : check.kind === 'volume'
          ? `/volumes/${id}`
          : check.kind === 'network'
            ? `/networks/${id}`
            : check.kind === 'image'
              ? `/images/${check.id.split('/').map(encodeURIComponent).join('/')}/json`
              : `/exec/${id}/json`;
    try {
      const inspect = await this.#engine.json<{ ContainerID?: string }>('GET', path);
      if (check.kind === 'exec') {
        return inspect.ContainerID === undefined
          ? undefined
          : this.#ownerOfObject({ kind: 'container', id: inspect.ContainerID });
      }
      return ownerOf(inspect);
    } catch (error) {
      if (error instanceof EngineError && error.status === 404) return NOT_FOUND;
      this.#log.warn({ err: (error as Error).message, path }, 'owner lookup failed');
      return undefined;
    }
  }
}

type Resolved = { readonly identity: Identity | undefined } | Denial;

/** An owner lookup's answer for an object that does not exist. */
const NOT_FOUND = Symbol('not found');

/** Every target held nothing: the audit line of an allowed request names none (its path does). */
const ALLOWED_TARGETS: TargetOutcome = { denial: undefined, target: undefined, escape: undefined };

/**
 * A target the engine described: refused (with "exec create → traefik (3f2a9c1b0d4e)" for the
 * audit line) when it holds an escape, undefined when it holds none.
 */
function judgeTarget(
  profile: Profile,
  check: TargetCheck,
  lookup: Exclude<TargetLookup, { kind: 'missing' }>,
): TargetOutcome | undefined {
  if (lookup.kind === 'volume') {
    const denial = decideVolume(profile, check, lookup.volume);
    if (denial === undefined) return undefined;
    return { denial, target: `${check.via} → volume ${lookup.volume.name}`, escape: denial.escape };
  }
  const facts = lookup.facts;
  const denial = decideTarget(profile, check, facts);
  if (denial === undefined) return undefined;
  return { denial, target: `${check.via} → ${facts.name} (${facts.id.slice(0, 12)})`, escape: denial.escape };
}

const UNKNOWN_TOKEN = 'unknown or revoked token';

/** Token first (it is explicit), then a known client certificate, else no identity. */
function resolveCaller(policy: Policy, authorization: readonly string[], conn: ConnectionInfo): Resolved {
  if (authorization.length > 1) return unauthorised('more than one Authorization header');
  const header = authorization[0];
  if (header !== undefined) {
    const match = /^Bearer +([A-Za-z0-9._~+/=-]+)$/i.exec(header);
    if (match === null) return unauthorised('the Authorization header must be "Bearer <token>"');
    const identity = policy.byTokenHash.get(hashToken(match[1] as string));
    if (identity === undefined) return unauthorised(UNKNOWN_TOKEN);
    return { identity };
  }
  for (const name of conn.certNames) {
    const identity = policy.byCertName.get(name);
    if (identity !== undefined) return { identity };
  }
  return { identity: undefined };
}

function unauthorised(reason: string): Denial {
  return { ...refusal('DG_UNAUTHENTICATED'), reason, rule: 'authentication' };
}

/** The audit line of a request let through: allowed, or one warn/audit mode would have denied. */
function passedAudit(
  request: GateRequest,
  caller: Caller,
  head: Extract<HeadOutcome, { kind: 'allow' }>,
  wouldDeny: Denial | undefined,
): AuditFields {
  const path = head.normalised.path;
  return wouldDeny === undefined
    ? audit(request, caller, path, 'allow', head.rule.name, undefined, undefined, head.route?.route.name)
    : audit(request, caller, path, 'would_deny', wouldDeny.rule, wouldDeny.reason, wouldDeny.code);
}

function audit(
  request: GateRequest,
  caller: Caller | undefined,
  npath: string,
  decision: AuditFields['decision'],
  rule: string,
  reason: string | undefined,
  code?: string,
  /** The route class when already known (the allow path), else looked up. */
  route?: string,
): AuditFields {
  return {
    identity: caller?.name ?? 'unknown',
    profile: caller?.profile.name ?? '-',
    route: route ?? routeClass(request.method, npath),
    npath,
    decision,
    mode: caller?.profile.mode ?? 'enforce',
    rule,
    reason,
    code,
  };
}

/** A JSON answer of the gateway's own endpoints (stats, host), with its audit line. */
function ownAnswer(
  request: GateRequest,
  caller: Caller,
  head: Extract<HeadOutcome, { kind: 'allow' }>,
  status: number,
  body: unknown,
): Ruling {
  const line = audit(
    request,
    caller,
    head.normalised.path,
    'allow',
    head.rule.name,
    undefined,
    undefined,
    head.route?.route.name,
  );
  return {
    kind: 'answer',
    status,
    contentType: 'application/json',
    body: Buffer.from(`${JSON.stringify(body)}\n`),
    audit: line,
  };
}
