import { ERRORS, type ErrorCode } from '../errors.js';
import { GoJsonError, type GoObject, type GoValue, isObject, isString, parseGoJson } from './go-json.js';
import {
  boundVolumeEscape,
  buildQueryEscape,
  type ContainerFacts,
  containerCreateEscape,
  type Escape,
  type EscapeAllowances,
  execCreateEscape,
  existingContainerEscape,
  hostConfigEscape,
  imageCreateQueryEscape,
  namedVolumeEscape,
  networkCreateEscape,
  resourcesEscape,
  volumeCreateEscape,
} from './host-escapes.js';
import { type NormalisedTarget, normaliseTarget } from './normalize.js';
import { labelBody, type OwnedKind, type OwnerCheck, ownerBuildLabels, ownerFilter } from './ownership.js';
import type { CompiledRule, Condition, Profile } from './profile.js';
import {
  joinedObjects,
  referencedContainers,
  referencedVolumes,
  type TargetCheck,
  type TargetFacts,
  targetChecks,
  type VolumeFacts,
} from './references.js';
import { matchRoute, type RouteMatch } from './routes.js';

/** A decision, as a value: what was decided, by which rule, and why. */
export type Decision =
  | { readonly allow: true; readonly rule: string; readonly wouldDeny?: Denial }
  | ({ readonly allow: false } & Denial);

export interface Denial {
  readonly status: number;
  /** The catalogue code (src/errors.ts), in the audit line. */
  readonly code: ErrorCode;
  readonly reason: string;
  readonly rule: string;
}

/** The outcome of the head stage: denied, or allowed with what the next stages need. */
export type HeadOutcome =
  | { readonly kind: 'deny'; readonly denial: Denial; readonly normalised: NormalisedTarget | undefined }
  | {
      readonly kind: 'allow';
      readonly rule: CompiledRule;
      readonly normalised: NormalisedTarget;
      readonly route: RouteMatch | undefined;
      /** The body must be read (up to the profile's limit) and given to `decideBody`. */
      readonly needsBody: boolean;
      /** A denial found at the head stage that the profile's mode lets through. */
      readonly wouldDeny: Denial | undefined;
    };

/** What an allowed request becomes on its way to the engine. */
export interface Effects {
  /** New request target (ownership filters, collapsed slashes), or undefined to keep it. */
  readonly target: string | undefined;
  /** New body (ownership labels), or undefined to forward the body as received. */
  readonly body: Buffer | undefined;
  /** Objects whose owner must be checked against the engine before forwarding. */
  readonly ownerChecks: readonly OwnerCheck[];
  /** Existing containers the request reaches into: each must hold no host escape (`decideTarget`). */
  readonly targetChecks: readonly TargetCheck[];
  /** Redact `Config.Env` values in the answer (container inspect). */
  readonly redactEnv: boolean;
}

export type BodyOutcome =
  | { readonly kind: 'deny'; readonly denial: Denial }
  | {
      readonly kind: 'allow';
      readonly effects: Effects;
      readonly wouldDeny: Denial | undefined;
      readonly features: readonly string[];
    };

/** Routes whose body (or query) is inspected for host escapes, and how. */
const BODY_INSPECTED: Record<string, (body: GoObject, p: Profile) => Escape | undefined> = {
  'POST /containers/create': (b, p) => containerCreateEscape(b, p.allow),
  'POST /containers/{id}/start': (b, p) => hostConfigEscape(b, p.allow, ''),
  'POST /containers/{id}/update': (b, p) => resourcesEscape(b, p.allow),
  'POST /containers/{id}/exec': (b, p) => execCreateEscape(b, p.allow),
  'POST /volumes/create': (b, p) => volumeCreateEscape(b, p.allow),
  'POST /networks/create': (b, p) => networkCreateEscape(b, p.allow),
};

const QUERY_INSPECTED: Record<string, (q: URLSearchParams, p: Profile) => Escape | undefined> = {
  'POST /build': (q, p) => buildQueryEscape(q, p.allow),
  'POST /images/create': (q) => imageCreateQueryEscape(q),
};

/** Routes whose settings cannot be inspected (gRPC, plugins, swarm): refused while inspecting. */
const UNINSPECTABLE =
  /^(POST|PUT|DELETE) \/(session|grpc|plugins|swarm|services|nodes|secrets|configs)(\/|$)/;

/** Routes acting on one object, and the kind whose owner is checked. */
const OWNED_PARAM: Record<string, OwnedKind> = {
  '/containers/': 'container',
  '/dockgate/v1/containers/': 'container',
  '/exec/': 'exec',
  '/volumes/': 'volume',
  '/networks/': 'network',
};

/** Per-object image routes that change or remove an image (inspect and history stay shared). */
const OWNED_IMAGE_ROUTES = new Set([
  'DELETE /images/{name}',
  'POST /images/{name}/tag',
  'POST /images/{name}/push',
]);

const FILTERED_LISTS = new Set([
  'GET /containers/json',
  'GET /dockgate/v1/stats',
  'GET /volumes',
  'GET /networks',
  'GET /events',
  'POST /containers/prune',
  'POST /volumes/prune',
  'POST /networks/prune',
]);

/** Routes whose body names an object of someone else's (`Container`), read under ownership. */
const OWNED_BODY_ROUTES = new Set(['POST /networks/{id}/connect', 'POST /networks/{id}/disconnect']);

const LABELLED_CREATES = new Set([
  'POST /containers/create',
  'POST /volumes/create',
  'POST /networks/create',
]);

/** What a request no rule matched carries on in warn and audit modes. */
const NO_RULE: CompiledRule = {
  name: 'default-deny',
  action: 'deny',
  methods: new Set(),
  regex: /$^/,
  when: [],
  source: '',
};

/** Stage 1: from the method and target alone. */
export function decideHead(
  profile: Profile,
  method: string,
  target: string,
  hasBody: boolean,
  /** Learn mode: read JSON bodies of inspectable routes even where the profile does not. */
  learning = false,
): HeadOutcome {
  const n = normaliseTarget(target);
  if (!n.ok)
    return {
      kind: 'deny',
      denial: { ...refusal('DG_REQUEST_AMBIGUOUS'), reason: n.reason, rule: 'normalise' },
      normalised: undefined,
    };
  const normalised = n.target;
  const path = normalised.path;
  const route = matchRoute(method, path);
  const rule = profile.rules.find(
    (r) => (r.methods.size === 0 || r.methods.has(method)) && r.regex.test(path),
  );
  let denial: Denial | undefined;
  if (rule === undefined) {
    const otherMethod =
      profile.methodNotAllowed && profile.rules.some((r) => r.action === 'allow' && r.regex.test(path));
    denial = otherMethod
      ? {
          ...refusal('DG_METHOD_NOT_ALLOWED'),
          reason: `method ${method} is not allowed on ${path} for profile ${profile.name}`,
          rule: 'default-deny',
        }
      : {
          ...refusal('DG_FORBIDDEN'),
          reason: `${method} ${path} is not allowed for profile ${profile.name}`,
          rule: 'default-deny',
        };
  } else if (rule.action === 'deny') {
    denial = {
      ...refusal('DG_FORBIDDEN'),
      reason: `${method} ${path} is denied by rule ${rule.name} (${rule.source})`,
      rule: rule.name,
    };
  } else if (profile.inspect && route !== undefined) {
    const query = QUERY_INSPECTED[route.route.name];
    const found = query?.(new URLSearchParams(normalised.query), profile);
    if (found !== undefined) denial = escapeDenial(found, 'query');
  }
  if (denial === undefined && profile.inspect && UNINSPECTABLE.test(`${method} ${path}`)) {
    denial = {
      ...refusal('DG_FORBIDDEN'),
      reason: `${method} ${path} carries settings the gateway cannot inspect; allow it in a profile with inspect: false`,
      rule: 'inspect',
    };
  }
  // Warn and audit modes let a denied request through and record what would have happened.
  if (denial !== undefined && profile.mode === 'enforce') return { kind: 'deny', denial, normalised };
  const needsBody =
    hasBody &&
    (((profile.inspect || learning) &&
      route !== undefined &&
      BODY_INSPECTED[route.route.name] !== undefined) ||
      (rule?.when.length ?? 0) > 0 ||
      (profile.ownership &&
        route !== undefined &&
        (LABELLED_CREATES.has(route.route.name) || OWNED_BODY_ROUTES.has(route.route.name))));
  return {
    kind: 'allow',
    rule: rule ?? NO_RULE,
    normalised,
    route,
    needsBody,
    wouldDeny: denial,
  };
}

/** Stage 2: with the body (when stage 1 asked for it) and the caller's identity for ownership. */
export function decideBody(
  profile: Profile,
  head: Extract<HeadOutcome, { kind: 'allow' }>,
  body: Buffer | undefined,
  owner: string,
): BodyOutcome {
  const routeName = head.route?.route.name;
  let parsed: GoObject | undefined;
  const features: string[] = [];
  if (head.needsBody && body !== undefined && body.length > 0) {
    // Only a body that decides something must parse; learn mode merely reads what it can.
    const decides = profile.inspect || profile.ownership || head.rule.when.length > 0;
    let value: GoValue | undefined;
    let problem: string | undefined;
    try {
      value = parseGoJson(body);
      if (!isObject(value) && value !== null) problem = 'the request body must be a JSON object';
    } catch (error) {
      problem = `the request body cannot be inspected: ${error instanceof GoJsonError ? error.message : String(error)}`;
    }
    if (problem !== undefined && decides) {
      return {
        kind: 'deny',
        denial: { ...refusal('DG_REQUEST_AMBIGUOUS'), reason: problem, rule: 'inspect' },
      };
    }
    if (problem === undefined && isObject(value)) parsed = value;
  }
  let wouldDeny = head.wouldDeny;
  const deny = (denial: Denial): BodyOutcome | undefined => {
    if (profile.mode === 'enforce') return { kind: 'deny', denial };
    wouldDeny ??= denial;
    return undefined;
  };
  if (parsed !== undefined) {
    for (const [path, condition] of head.rule.when) {
      if (!conditionHolds(parsed, path, condition)) {
        const d = deny({
          ...refusal('DG_FORBIDDEN'),
          reason: `body field ${path.join('.')} does not satisfy rule ${head.rule.name}`,
          rule: head.rule.name,
        });
        if (d !== undefined) return d;
      }
    }
    const inspect = routeName === undefined ? undefined : BODY_INSPECTED[routeName];
    if (profile.inspect && inspect !== undefined) {
      const found = inspect(parsed, profile);
      if (found !== undefined) {
        const d = deny(escapeDenial(found, 'body'));
        if (d !== undefined) return d;
      }
    }
    features.push(...bodyFeatures(parsed));
  } else if (head.rule.when.length > 0 && head.rule.when.some(([, c]) => c.absent !== true)) {
    const d = deny({
      ...refusal('DG_FORBIDDEN'),
      reason: `rule ${head.rule.name} needs a request body`,
      rule: head.rule.name,
    });
    if (d !== undefined) return d;
  }
  // Ownership: label what is created, filter what is listed, check what is touched.
  let target: string | undefined = head.normalised.rewritten ? head.normalised.canonicalTarget : undefined;
  let newBody: Buffer | undefined;
  const ownerChecks: OwnerCheck[] = [];
  if (profile.ownership && routeName !== undefined && head.route !== undefined) {
    const n = head.normalised;
    const withQuery = (query: string | undefined): string | undefined => {
      if (query === undefined) return undefined;
      return `${n.versionPrefix}${n.canonicalTarget.slice(n.versionPrefix.length).split('?')[0]}?${query}`;
    };
    // Lists and builds carry the owner in a query parameter: rewritten, or refused if ambiguous.
    const param = FILTERED_LISTS.has(routeName)
      ? 'filters'
      : routeName === 'POST /build'
        ? 'labels'
        : undefined;
    if (param !== undefined) {
      target = withQuery(
        param === 'filters' ? ownerFilter(n.query, owner) : ownerBuildLabels(n.query, owner),
      );
      if (target === undefined) {
        const reason = `the ${param} parameter is repeated or not valid JSON`;
        return { kind: 'deny', denial: { ...refusal('DG_REQUEST_AMBIGUOUS'), reason, rule: 'ownership' } };
      }
    }
    if (LABELLED_CREATES.has(routeName)) {
      const created = parsed ?? (parseGoJson('{}') as GoObject);
      if (routeName === 'POST /containers/create') {
        // Everything of someone else's a new container would join: their containers' mounts and
        // namespaces, their volumes' data, their networks, their environment through links.
        for (const { ref } of referencedContainers(created)) ownerChecks.push({ kind: 'container', id: ref });
        for (const { ref } of referencedVolumes(created))
          ownerChecks.push({ kind: 'volume', id: ref, createIfMissing: true });
        const joined = joinedObjects(created);
        for (const id of joined.networks) ownerChecks.push({ kind: 'network', id });
        for (const id of joined.links) ownerChecks.push({ kind: 'container', id });
      }
      newBody = labelBody(created, owner);
    }
    if (OWNED_BODY_ROUTES.has(routeName)) {
      const container = parsed?.field('Container');
      if (isString(container) && container !== '') ownerChecks.push({ kind: 'container', id: container });
    }
    const kind = Object.entries(OWNED_PARAM).find(([prefix]) => n.path.startsWith(prefix))?.[1];
    const id = head.route.params.id ?? head.route.params.name;
    if (kind !== undefined && id !== undefined) ownerChecks.push({ kind, id });
    if (OWNED_IMAGE_ROUTES.has(routeName) && head.route.params.name !== undefined) {
      ownerChecks.push({ kind: 'image', id: head.route.params.name });
    }
  }
  const targets =
    profile.inspect && head.route !== undefined && routeName !== undefined
      ? targetChecks(routeName, head.route.params, head.normalised.query, parsed)
      : [];
  return {
    kind: 'allow',
    effects: {
      target,
      body: newBody,
      ownerChecks,
      targetChecks: targets,
      redactEnv: profile.redactEnv && routeName === 'GET /containers/{id}/json',
    },
    wouldDeny,
    features,
  };
}

/**
 * Both stages at once, for callers that have the whole request at hand (`policy explain`, the
 * golden tables). Owner lookups are listed in the effects, not made: they need the engine.
 */
export function decide(
  profile: Profile,
  method: string,
  target: string,
  body: Buffer | undefined,
  owner: string,
): { readonly decision: Decision; readonly head: HeadOutcome; readonly outcome: BodyOutcome | undefined } {
  const head = decideHead(profile, method, target, body !== undefined && body.length > 0);
  if (head.kind === 'deny') return { decision: { allow: false, ...head.denial }, head, outcome: undefined };
  const outcome = decideBody(profile, head, body, owner);
  if (outcome.kind === 'deny') return { decision: { allow: false, ...outcome.denial }, head, outcome };
  const decision: Decision =
    outcome.wouldDeny === undefined
      ? { allow: true, rule: head.rule.name }
      : { allow: true, rule: head.rule.name, wouldDeny: outcome.wouldDeny };
  return { decision, head, outcome };
}

/**
 * Stage 3, for each target check, with what the engine says of the target: a request that
 * reaches into a container holding a host escape is refused as that escape would be at create
 * (issue 10). The same checker decides both (host-escapes.ts).
 */
export function decideTarget(
  profile: Profile,
  check: TargetCheck,
  facts: TargetFacts,
): (Denial & { readonly escape: string }) | undefined {
  const own = facts.exec === undefined ? undefined : execCreateEscape(facts.exec, profile.allow);
  const found =
    own ??
    (check.only === 'bound-volumes'
      ? boundVolumeEscape(facts.container, profile.allow)
      : heldEscape(facts.container, profile.allow));
  if (found === undefined) return undefined;
  if (check.only === 'bound-volumes' && own === undefined) {
    return {
      ...refusal('DG_FORBIDDEN'),
      reason: `${check.via}: ${found.reason}, created after the create of container ${facts.name} was checked — not allowed for profile ${profile.name}`,
      rule: 'host-escape',
      escape: `${found.field}: ${found.reason}`,
    };
  }
  const what = own === undefined ? `container ${facts.name}` : `exec ${check.ref} of container ${facts.name}`;
  return {
    ...refusal('DG_FORBIDDEN'),
    reason: `${check.via} reaches into ${what} (${facts.id.slice(0, 12)}), which holds a host escape: ${found.field}: ${found.reason}`,
    rule: 'lateral-movement',
    escape: `${found.field}: ${found.reason}`,
  };
}

/**
 * Stage 3 for a named volume a create body mounts (issue 22): a `local` volume that binds a host
 * path (or mounts a host device) is judged as a bind of that path — refused where the profile
 * would refuse `-v PATH:…`. Other volumes keep what they were: the engine's business.
 */
export function decideVolume(
  profile: Profile,
  check: TargetCheck,
  volume: VolumeFacts,
): (Denial & { readonly escape: string }) | undefined {
  const found = namedVolumeEscape(volume.name, volume.driver, volume.options, profile.allow, check.via);
  if (found === undefined) return undefined;
  return {
    ...refusal('DG_FORBIDDEN'),
    reason: `${found.reason} (${check.via}) — not allowed for profile ${profile.name}`,
    rule: 'host-escape',
    escape: `${found.field}: ${found.reason}`,
  };
}

/**
 * What a container holds, per set of allowances: facts are cached (target-facts.ts) and profiles
 * are immutable, so the checker runs once per container and profile, not once per request (it
 * was half of an exec create's cost on the proxy path).
 */
const HELD = new WeakMap<ContainerFacts, WeakMap<EscapeAllowances, Escape | null>>();

function heldEscape(container: ContainerFacts, allow: EscapeAllowances): Escape | undefined {
  let byAllowances = HELD.get(container);
  if (byAllowances === undefined) {
    byAllowances = new WeakMap();
    HELD.set(container, byAllowances);
  }
  let found = byAllowances.get(allow);
  if (found === undefined) {
    found = existingContainerEscape(container, allow) ?? null;
    byAllowances.set(allow, found);
  }
  return found ?? undefined;
}

function escapeDenial(found: Escape, where: 'body' | 'query'): Denial {
  return {
    ...refusal('DG_FORBIDDEN'),
    reason: `${where} field ${found.field}: ${found.reason}`,
    rule: 'host-escape',
  };
}

function fieldAt(body: GoObject, path: readonly string[]): GoValue | undefined {
  let value: GoValue | undefined = body;
  for (const step of path) {
    if (!isObject(value)) return undefined;
    value = value.field(step);
  }
  return value;
}

function conditionHolds(body: GoObject, path: readonly string[], c: Condition): boolean {
  const v = fieldAt(body, path);
  if (c.absent === true) return v === undefined || v === null;
  if (c.absent === false && (v === undefined || v === null)) return false;
  const scalar = v === undefined ? null : v;
  if (typeof scalar === 'object' && scalar !== null) return false;
  if (c.equals !== undefined && scalar !== c.equals) return false;
  if (c.in !== undefined && !c.in.includes(scalar)) return false;
  if (c.notIn?.includes(scalar)) return false;
  if (c.matches !== undefined && (typeof scalar !== 'string' || !new RegExp(c.matches).test(scalar)))
    return false;
  return true;
}

/** Top-level fields set in a body, for learn mode ("HostConfig.Binds", "Image"). */
function bodyFeatures(body: GoObject): string[] {
  const out: string[] = [];
  for (const [key, value] of body.entries) {
    if (isObject(value)) for (const [inner] of value.entries) out.push(`${key}.${inner}`);
    else out.push(key);
  }
  return out;
}

/** Status and code of a refusal, from the one error catalogue. */
export function refusal(code: ErrorCode): { readonly status: number; readonly code: ErrorCode } {
  return { status: ERRORS[code].status ?? 403, code };
}
