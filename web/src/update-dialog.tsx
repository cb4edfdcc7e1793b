import { useRef, useState } from 'preact/hooks';
import { type ContainerItem, runUpdate, type UpdateEvent } from './api.js';

type Plan = NonNullable<UpdateEvent['data']['settings']>;

/** What the dialog shows: the plan being made, the plan, the update running, how it ended. */
type Phase =
  | { kind: 'planning' }
  | { kind: 'plan'; settings: Plan; gate: string; from: string; to: string }
  | { kind: 'running' }
  | { kind: 'done'; ok: boolean; message: string; logs: readonly string[]; id?: string };

const containerPath = (c: ContainerItem): string =>
  `/api/v1/containers/${encodeURIComponent(c.engine)}/${encodeURIComponent(c.id)}`;

/**
 * The container page's Update button (operators): a dialog that pulls and shows what will happen
 * (the settings changed and dropped; those kept, folded), then the live progress, then the
 * outcome — the rollback's reason and the new container's last lines when it did not start.
 */
export function UpdateButton({ item, onUpdated }: { item: ContainerItem; onUpdated: (id: string) => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [phase, setPhase] = useState<Phase>({ kind: 'planning' });
  const [steps, setSteps] = useState<string[]>([]);
  const path = containerPath(item);
  const note = (e: UpdateEvent): void => {
    if (e.event === 'progress' && e.data.message !== undefined)
      setSteps((s) => [...s.slice(-200), `${e.data.step}: ${e.data.message}`]);
  };

  const open = (): void => {
    setSteps([]);
    setPhase({ kind: 'planning' });
    dialog.current?.showModal();
    void runUpdate(path, { dryRun: true }, note).then((last) => {
      if (last.event === 'result' && last.data.result === 'plan')
        setPhase({
          kind: 'plan',
          settings: last.data.settings ?? [],
          gate: gateText(last.data.gate),
          from: short(last.data.from),
          to: short(last.data.to),
        });
      else setPhase(ended(last));
    });
  };
  const go = (): void => {
    setSteps([]);
    setPhase({ kind: 'running' });
    void runUpdate(path, {}, note).then((last) => setPhase(ended(last)));
  };
  const close = (): void => {
    dialog.current?.close();
    if (phase.kind === 'done' && phase.ok && phase.id !== undefined) onUpdated(phase.id);
  };

  return (
    <>
      <button
        type="button"
        class={item.update.status === 'outdated' ? 'update-button outdated' : 'update-button'}
        onClick={open}
      >
        Update…
      </button>
      <dialog ref={dialog} class="update-dialog" aria-labelledby="update-title" onClose={close}>
        <h3 id="update-title">Update {item.name}</h3>
        <p class="muted">{item.image}</p>
        {phase.kind === 'planning' ? <p aria-live="polite">Pulling the image to see what changes…</p> : null}
        {phase.kind === 'plan' ? (
          <>
            <p>
              From <code>{phase.from}</code> to <code>{phase.to}</code>. The container is renamed aside, a new
              one is created with its settings, then {phase.gate}; if not, the old one is back.
            </p>
            <Settings settings={phase.settings} />
          </>
        ) : null}
        {phase.kind === 'done' ? (
          <div
            class={phase.ok ? 'outcome ok' : 'outcome bad'}
            role="status"
            data-outcome={phase.ok ? 'ok' : 'bad'}
          >
            <p>{phase.message}</p>
            {phase.logs.length > 0 ? <pre class="update-logs">{phase.logs.join('\n')}</pre> : null}
          </div>
        ) : null}
        {steps.length > 0 && phase.kind !== 'plan' ? (
          <ol class="update-progress" aria-live="polite">
            {steps.slice(-12).map((s, i) => (
              <li key={`${i}-${s}`}>{s}</li>
            ))}
          </ol>
        ) : null}
        <form method="dialog" class="dialog-buttons">
          <button type="submit" value="close" disabled={phase.kind === 'running'}>
            {phase.kind === 'done' ? 'Close' : 'Cancel'}
          </button>
          {phase.kind === 'plan' ? (
            <button
              type="button"
              class="primary"
              onClick={(e) => {
                e.preventDefault();
                go();
              }}
            >
              Update
            </button>
          ) : null}
        </form>
      </dialog>
    </>
  );
}

/** Changed and dropped settings in full; the kept ones folded (there are many). */
function Settings({ settings }: { settings: Plan }) {
  const moved = settings.filter((s) => s.effect !== 'kept');
  const kept = settings.filter((s) => s.effect === 'kept');
  return (
    <>
      {moved.length === 0 ? (
        <p>No setting changes: only the image.</p>
      ) : (
        <table class="update-settings">
          <tbody>
            {moved.map((s) => (
              <tr key={s.setting} data-effect={s.effect}>
                <th scope="row">{s.setting}</th>
                <td>{s.effect}</td>
                <td class="mono">
                  {s.from ?? '—'} → {s.to ?? '—'}
                </td>
                <td class="muted">{s.why}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <details>
        <summary>{kept.length} settings kept</summary>
        <ul class="update-kept">
          {kept.map((s) => (
            <li key={s.setting}>
              <strong>{s.setting}</strong> <span class="mono">{s.from}</span>{' '}
              <span class="muted">({s.why})</span>
            </li>
          ))}
        </ul>
      </details>
    </>
  );
}

/**
 * Bulk: every outdated container of a compose project, one at a time, stopping at the first that
 * does not update (a rollback means the new image is bad: the rest would fail the same way).
 */
export function BulkUpdate({ project, items }: { project: string; items: readonly ContainerItem[] }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [rows, setRows] = useState<{ name: string; state: string }[]>([]);
  const [running, setRunning] = useState(false);
  const outdated = items.filter((c) => c.update.status === 'outdated' && c.state !== 'removed');
  if (outdated.length === 0) return null;

  const start = async (): Promise<void> => {
    setRunning(true);
    const list = outdated.map((c) => ({ name: c.name, state: 'waiting' }));
    setRows(list);
    const set = (i: number, state: string): void =>
      setRows((r) => r.map((row, j) => (j === i ? { ...row, state } : row)));
    for (const [i, c] of outdated.entries()) {
      set(i, 'updating…');
      const last = await runUpdate(containerPath(c), {}, (e) => {
        if (e.event === 'progress' && e.data.step !== undefined) set(i, `${e.data.step}…`);
      });
      const outcome = ended(last);
      set(i, outcome.message);
      if (!outcome.ok) {
        for (let j = i + 1; j < outdated.length; j++) set(j, 'not tried: stopped at the first failure');
        break;
      }
    }
    setRunning(false);
  };

  return (
    <>
      <button
        type="button"
        class="bulk-update"
        onClick={() => {
          setRows(outdated.map((c) => ({ name: c.name, state: 'outdated' })));
          dialog.current?.showModal();
        }}
      >
        update {outdated.length} outdated
      </button>
      <dialog ref={dialog} class="update-dialog" aria-labelledby={`bulk-${project}`}>
        <h3 id={`bulk-${project}`}>Update the outdated containers of {project}</h3>
        <p>One at a time; the first that is rolled back stops the rest.</p>
        <ol class="bulk-rows">
          {rows.map((r) => (
            <li key={r.name} data-name={r.name}>
              <strong>{r.name}</strong>: {r.state}
            </li>
          ))}
        </ol>
        <form method="dialog" class="dialog-buttons">
          <button type="submit" value="close" disabled={running}>
            Close
          </button>
          <button
            type="button"
            class="primary"
            disabled={running}
            onClick={(e) => {
              e.preventDefault();
              void start();
            }}
          >
            Update all
          </button>
        </form>
      </dialog>
    </>
  );
}

function ended(last: UpdateEvent): Extract<Phase, { kind: 'done' }> {
  const d = last.data;
  if (last.event === 'error') return { kind: 'done', ok: false, message: d.message ?? 'failed', logs: [] };
  switch (d.result) {
    case 'updated':
      return {
        kind: 'done',
        ok: true,
        message: `Updated: runs ${short(d.to)} (was ${short(d.from)}).`,
        logs: [],
        ...(d.id === undefined ? {} : { id: d.id }),
      };
    case 'current':
      return { kind: 'done', ok: true, message: `Already runs the newest image (${short(d.to)}).`, logs: [] };
    case 'rolled-back':
      return {
        kind: 'done',
        ok: false,
        message: `Rolled back: ${d.reason ?? 'the new container did not start'}. The container runs ${short(d.from)} again.`,
        logs: d.logs ?? [],
      };
    default:
      return { kind: 'done', ok: false, message: d.reason ?? d.message ?? 'failed', logs: [] };
  }
}

function gateText(gate: UpdateEvent['data']['gate']): string {
  if (gate?.kind === 'health')
    return `it must be healthy within ${Math.round((gate.timeoutMs ?? 0) / 1000)} s`;
  if (gate?.kind === 'running')
    return `it must keep running for ${Math.round((gate.settleMs ?? 0) / 1000)} s`;
  return 'it is left stopped, as the old one was';
}

function short(digest: string | null | undefined): string {
  return digest === null || digest === undefined ? '?' : digest.replace(/^sha256:/, '').slice(0, 12);
}
