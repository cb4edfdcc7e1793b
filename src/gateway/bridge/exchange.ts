import { ERRORS, isDockgateError } from '../../errors.js';
import type { Answer, AuditFields, NeedBody, Refuse } from '../gate.js';
import type { RequestHead } from '../http/request-head.js';

/** One request/response exchange on the connection, from head to the end of its answer. */
export interface Exchange {
  readonly id: string;
  readonly method: string;
  readonly target: string;
  readonly started: number;
  /** May take over the connection: later client bytes wait for the answer (see hijack.ts). */
  readonly holds: boolean;
  status: number;
  bytesIn: number;
  bytesOut: number;
  hijacked: boolean;
  readonly audit: AuditFields | undefined;
  /** Rewrites a 200 answer's body (read whole first), from the gate. */
  readonly transform: ((body: Buffer) => Buffer) | undefined;
  readonly done: ((status: number) => void) | undefined;
  /**
   * The client asked to close after this exchange (`Connection: close`): the engine was asked to
   * keep its connection (for the next client), so the gateway closes the client's itself.
   */
  closeAfter: boolean;
}

/** A request read up to its head whose ruling is not in yet (a body to read, a lookup). */
export interface Pending {
  readonly head: Buffer;
  readonly request: RequestHead;
  readonly id: string;
  readonly started: number;
  /** The body as received (framing included), once read for the gate. */
  rawBody: Buffer | undefined;
}

/** An error answer the gateway owes the client once the answers before it are through. */
export interface OwedAnswer {
  readonly status: number;
  readonly message: string;
  readonly id: string;
  readonly answer?: Answer | undefined;
}

export function tooLarge(ruling: NeedBody): Refuse {
  return {
    kind: 'refuse',
    status: ERRORS.DG_BODY_TOO_LARGE.status,
    message: `request body larger than ${ruling.limit} bytes (the limit for inspected bodies)`,
    audit: ruling.audit,
  };
}

export function asAnswer(error: unknown): { status: number; message: string } {
  if (isDockgateError(error) && error.status !== undefined)
    return { status: error.status, message: error.message };
  return { status: 502, message: 'internal gateway error' };
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** "connect ENOENT /var/run/docker.sock", "read ECONNRESET": Node's message names the code. */
export function describeSocketError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  const text =
    code === undefined || error.message.includes(code) ? error.message : `${code}: ${error.message}`;
  // Each proxied connection holds two descriptors; say what to change.
  return code === 'EMFILE' || code === 'ENFILE' ? `${text} (out of file descriptors: raise ulimit -n)` : text;
}
