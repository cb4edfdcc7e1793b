import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** One server-sent event as kept for resuming. */
interface Sent {
  readonly seq: number;
  readonly text: string;
}

/** Events kept to resume a client that reconnects with `Last-Event-ID`. */
const RING = 20_000;
/** A client this far behind (bytes queued in its socket) is cut; it resumes from the ring. */
const MAX_BUFFERED = 4 * 1024 * 1024;
/** A comment this often keeps proxies from closing a quiet stream. */
export const HEARTBEAT_MS = 15_000;

/**
 * Takes over `res` as a server-sent event stream (every stream of the monitor's: no proxy
 * buffering, no transform), its first text a comment naming it; the client retries after 2 s.
 */
export function openEvents(res: ServerResponse, name: string): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.write(`retry: 2000\n: ${name}\n\n`);
}

/**
 * `GET /api/v1/stream`: server-sent events to every client. Each event has an id
 * `<boot>-<seq>`; a client that reconnects with `Last-Event-ID` gets what it missed from a ring
 * of recent events, so nothing is lost across a dropped connection. An id from another run of
 * the monitor, or one older than the ring, gets `resync` first: reload the lists. Heartbeats keep
 * proxies from closing an idle stream; a client too slow to read is cut (it resumes).
 */
export class EventStream {
  readonly #boot = randomBytes(4).toString('hex');
  readonly #ring: Sent[] = [];
  readonly #clients = new Set<ServerResponse>();
  readonly #timer: NodeJS.Timeout;
  #seq = 0;

  constructor() {
    this.#timer = setInterval(() => this.#broadcast(': heartbeat\n\n'), HEARTBEAT_MS);
    this.#timer.unref();
  }

  get clients(): number {
    return this.#clients.size;
  }

  /** Sends `event` with `data` (JSON) to every client and keeps it for resuming. */
  publish(event: string, data: unknown): void {
    const seq = ++this.#seq;
    const text = `id: ${this.#boot}-${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    this.#ring.push({ seq, text });
    if (this.#ring.length > RING) this.#ring.splice(0, this.#ring.length - RING);
    this.#broadcast(text);
  }

  /**
   * Takes over `res` for the stream. `lastEventId`: resume after it. `snapshot`: events that
   * describe the state now, sent first (engines and containers), for a client that starts empty.
   */
  attach(
    res: ServerResponse,
    lastEventId: string | undefined,
    snapshot: () => readonly [string, unknown][],
  ): void {
    openEvents(res, `dockgate monitor stream ${this.#boot}`);
    const resumed = lastEventId === undefined ? undefined : this.#since(lastEventId);
    if (resumed === undefined) {
      if (lastEventId !== undefined)
        res.write(
          `event: resync\ndata: ${JSON.stringify({ reason: 'the events after that id are gone' })}\n\n`,
        );
      const seq = this.#seq;
      for (const [event, data] of snapshot())
        res.write(`id: ${this.#boot}-${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    } else {
      for (const sent of resumed) res.write(sent.text);
    }
    this.#clients.add(res);
    const drop = (): void => {
      this.#clients.delete(res);
    };
    res.on('close', drop);
    res.on('error', drop);
  }

  close(): void {
    clearInterval(this.#timer);
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }

  /** Events after `id`; undefined when that id is from another run or no longer in the ring. */
  #since(id: string): Sent[] | undefined {
    const [boot, seqText] = id.split('-');
    const seq = Number(seqText);
    if (boot !== this.#boot || !Number.isInteger(seq) || seq > this.#seq) return undefined;
    const first = this.#ring[0];
    if (seq < this.#seq && (first === undefined || first.seq > seq + 1)) return undefined;
    return this.#ring.filter((sent) => sent.seq > seq);
  }

  #broadcast(text: string): void {
    for (const res of this.#clients) {
      if (res.writableLength > MAX_BUFFERED) {
        res.destroy(); // it reconnects with Last-Event-ID and resumes from the ring
        this.#clients.delete(res);
        continue;
      }
      res.write(text);
    }
  }
}
