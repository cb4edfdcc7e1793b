import type { Socket } from 'node:net';

/**
 * Bytes queued for one socket during one event, written together at its end. Each write to a
 * socket is a system call, the largest cost on the proxy path: consecutive slices of one read
 * (a head and its body) grow one view of the read's memory, and pieces that are not contiguous
 * (a rebuilt head before its body) leave with it in one system call: copied into one buffer when
 * small, else one writev (cork/uncork).
 */
export class Outbox {
  #run: Buffer | undefined;
  /** Runs before #run, not contiguous with it. */
  #earlier: Buffer[] | undefined;

  get empty(): boolean {
    return this.#run === undefined;
  }

  add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const run = this.#run;
    if (run !== undefined && follows(run, bytes)) {
      this.#run = Buffer.from(run.buffer, run.byteOffset, run.length + bytes.length);
      return;
    }
    if (run !== undefined) {
      if (this.#earlier === undefined) this.#earlier = [run];
      else this.#earlier.push(run);
    }
    this.#run = bytes;
  }

  /**
   * Writes what is queued; true when the socket's buffer is full (pause the other side). With no
   * socket, or a destroyed one, the bytes are dropped: no one is left to hear them.
   */
  flush(socket: Socket | undefined): boolean {
    const run = this.#run;
    if (run === undefined) return false;
    this.#run = undefined;
    const earlier = this.#earlier;
    this.#earlier = undefined;
    if (socket === undefined || socket.destroyed) return false;
    if (earlier === undefined) return !socket.write(run);
    let total = run.length;
    for (const piece of earlier) total += piece.length;
    // Small pieces (a rebuilt head and its short body) are cheaper joined than corked: one plain
    // write instead of Node's writev path.
    if (total <= JOIN_BELOW) {
      earlier.push(run);
      return !socket.write(Buffer.concat(earlier, total));
    }
    socket.cork();
    let full = false;
    for (const piece of earlier) full = !socket.write(piece) || full;
    full = !socket.write(run) || full;
    socket.uncork();
    return full;
  }
}

/** Pieces adding up to at most this many bytes are copied into one buffer instead of a writev. */
const JOIN_BELOW = 16 * 1024;

/** True when `next` starts in memory right where `run` ends: one view can cover both. */
function follows(run: Buffer, next: Buffer): boolean {
  return run.buffer === next.buffer && run.byteOffset + run.length === next.byteOffset;
}
