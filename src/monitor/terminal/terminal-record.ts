// No Node import here: the dashboard reads this type too (type-only, erased from its bundle).

/** One terminal session as `GET /api/v1/terminals` lists it. */
export interface TerminalRecord {
  readonly id: string;
  /** The token's or user's name. */
  readonly by: string;
  readonly via: 'token' | 'session' | 'anonymous';
  /** The caller's address. */
  readonly from: string;
  readonly engine: string;
  readonly container: string;
  readonly containerName: string;
  readonly cmd: readonly string[];
  readonly execId: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly exitCode: number | null;
  /** closed, exit, signed-out, role-lost, container-stopped, error: …, shutdown */
  readonly endReason: string | null;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly record: 'none' | 'output' | 'all';
  readonly castBytes: number;
  readonly truncated: boolean;
}
