import { randomBytes } from 'node:crypto';

/**
 * Short request ids, unique per process: a random prefix per gateway start and a counter.
 * Cheap enough for the hot path (no random bytes per request) and short enough to read aloud
 * from an error message into a log search.
 */
export function requestIdSource(): () => string {
  const prefix = randomBytes(3).toString('hex');
  let counter = 0;
  return () => `${prefix}-${(counter++).toString(36)}`;
}
