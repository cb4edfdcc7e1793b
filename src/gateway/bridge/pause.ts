/**
 * Why a socket is paused, as bits: each side reads again only when none is left, so one reason
 * ending (the other side drained) cannot resume a socket another still holds (a hijack decision).
 */
/** The other side's write buffer is full (backpressure). */
export const DRAIN = 1;
/** Waiting for a hijack decision: the client's later bytes are held. */
export const HOLD = 2;
/** An upgrade head must reach the client alone, before any stream byte. */
export const FLUSH = 4;
