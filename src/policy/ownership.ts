import { foldKey, GoObject, isObject } from './go-json.js';

/** The label naming the identity that created an object. */
export const OWNER_LABEL = 'dockgate.owner';

/** What a per-object check must look up in the engine. */
export type OwnedKind = 'container' | 'exec' | 'volume' | 'network' | 'image';

export interface OwnerCheck {
  readonly kind: OwnedKind;
  readonly id: string;
  /**
   * A named volume a create mounts: when it does not exist, the gateway creates it with the
   * caller's owner label first (the engine would create it unlabelled: nobody's, and no longer
   * the caller's on the next run).
   */
  readonly createIfMissing?: boolean;
}

/** Adds the owner label to a create body's `Labels` (the last key Go would read), as JSON. */
export function labelBody(body: GoObject, owner: string): Buffer {
  return withLabel(body, OWNER_LABEL, owner);
}

/**
 * Sets one label of a create body (replacing what the caller sent under that key), in the one
 * `Labels` key Go would read, as JSON.
 */
export function withLabel(body: GoObject, label: string, value: string): Buffer {
  let labels: GoObject | undefined;
  const existing = body.field('Labels');
  if (isObject(existing)) labels = existing;
  // Drop every spelling of Labels; one canonical key remains.
  const kept = body.entries.filter(([key]) => foldKey(key) !== 'labels');
  const merged = new GoObject();
  for (const entry of labels?.entries ?? []) if (entry[0] !== label) merged.entries.push(entry);
  merged.entries.push([label, value]);
  body.entries.length = 0;
  body.entries.push(...kept, ['Labels', merged]);
  return Buffer.from(JSON.stringify(body));
}

/**
 * Adds `label=dockgate.owner=<owner>` to a `filters` query parameter. Filters are rewritten in
 * the map form (`{"label":{"k=v":true}}`), which dockerd accepts for every key; a query with the
 * parameter twice is refused by the caller (dockerd would read only the first).
 */
export function ownerFilter(query: string, owner: string, param = 'filters'): string | undefined {
  const params = new URLSearchParams(query);
  const given = params.getAll(param);
  if (given.length > 1) return undefined;
  let filters: Record<string, Record<string, boolean>> = {};
  if (given.length === 1 && given[0] !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(given[0] as string);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    for (const [key, value] of Object.entries(parsed)) {
      if (Array.isArray(value) && value.every((v) => typeof v === 'string')) {
        filters[key] = Object.fromEntries(value.map((v: string) => [v, true]));
      } else if (typeof value === 'object' && value !== null) {
        filters[key] = { ...(value as Record<string, boolean>) };
      } else return undefined;
    }
  }
  filters = { ...filters, label: { ...(filters.label ?? {}), [`${OWNER_LABEL}=${owner}`]: true } };
  params.set(param, JSON.stringify(filters));
  return params.toString();
}

/** Adds the owner label to `POST /build`'s `labels` query parameter (JSON map). */
export function ownerBuildLabels(query: string, owner: string): string | undefined {
  const params = new URLSearchParams(query);
  const given = params.getAll('labels');
  if (given.length > 1) return undefined;
  let labels: Record<string, string> = {};
  if (given.length === 1 && given[0] !== '') {
    try {
      labels = JSON.parse(given[0] as string) as Record<string, string>;
    } catch {
      return undefined;
    }
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return undefined;
  }
  params.set('labels', JSON.stringify({ ...labels, [OWNER_LABEL]: owner }));
  return params.toString();
}

/** The owner label of an inspect answer (containers and images: Config.Labels; others: Labels). */
export function ownerOf(inspect: unknown): string | undefined {
  if (typeof inspect !== 'object' || inspect === null) return undefined;
  const o = inspect as {
    Labels?: Record<string, string> | null;
    Config?: { Labels?: Record<string, string> | null };
  };
  return o.Config?.Labels?.[OWNER_LABEL] ?? o.Labels?.[OWNER_LABEL];
}
