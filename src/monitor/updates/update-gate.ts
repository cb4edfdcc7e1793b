import type { GateSpec } from './recreate-plan.js';

/** What the gate reads of the new container's inspect answer. */
export interface GateState {
  readonly State?: {
    readonly Status?: string;
    readonly Running?: boolean;
    readonly Restarting?: boolean;
    readonly ExitCode?: number;
    readonly OOMKilled?: boolean;
    readonly StartedAt?: string;
    readonly Health?: {
      readonly Status?: string;
      readonly Log?: readonly { readonly Output?: string }[] | null;
    };
  };
  readonly RestartCount?: number;
}

export type GateVerdict =
  | { readonly kind: 'pass' }
  | { readonly kind: 'wait' }
  | { readonly kind: 'fail'; readonly reason: string };

/**
 * One look at the new container during the gate (a decision as a value: the runner polls, this
 * decides). `firstStart` is the StartedAt seen right after the start: another one means the
 * engine restarted it (a restart policy hides an exit from a single look at `Running`).
 */
export function gateVerdict(
  gate: GateSpec,
  state: GateState,
  firstStart: string | undefined,
  elapsedMs: number,
): GateVerdict {
  if (gate.kind === 'none') return { kind: 'pass' };
  const s = state.State ?? {};
  if (s.OOMKilled === true) return { kind: 'fail', reason: 'killed: out of memory' };
  if (s.Running !== true || s.Restarting === true) {
    return { kind: 'fail', reason: `exited with code ${s.ExitCode ?? -1}` };
  }
  if ((state.RestartCount ?? 0) > 0 || (firstStart !== undefined && s.StartedAt !== firstStart))
    return { kind: 'fail', reason: 'restarted by the engine' };
  if (gate.kind === 'running') return elapsedMs >= gate.settleMs ? { kind: 'pass' } : { kind: 'wait' };
  const health = s.Health?.Status;
  if (health === 'healthy') return { kind: 'pass' };
  if (health === 'unhealthy') {
    const output = s.Health?.Log?.at(-1)?.Output?.trim();
    return { kind: 'fail', reason: `unhealthy${output ? `: ${output.slice(0, 200)}` : ''}` };
  }
  if (elapsedMs >= gate.timeoutMs)
    return { kind: 'fail', reason: `not healthy within ${Math.round(gate.timeoutMs / 1000)} s` };
  return { kind: 'wait' };
}
