// A promise raced against a time limit and a cancel, the one way the library bounds a wait on the broker (connecting,
// setting up, resuming a history read, the CLI's exchange check); a wait that may run out without failing (stop's
// waits, a close, a probe's quiet time); and the pause between two tries.
/**
 * Resolves or rejects as `promise` does, unless `ms` pass first: then rejects with `timedOut()`; or unless `signal`
 * aborts first: then rejects with its reason. The timer and the abort listener are removed either way. `promise`
 * itself goes on: a late result (a connection opened after the deadline) is the caller's to close, and the caller
 * should handle its rejection.
 */
export async function within<T>(promise: Promise<T>, ms: number, timedOut: () => Error, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        if (signal) signal.addEventListener('abort', (onAbort = () => reject(signal.reason)), { once: true });
        if (Number.isFinite(ms)) timer = setTimeout(() => reject(timedOut()), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Waits for `promise` to settle, resolved or rejected, at most `ms` milliseconds (`Infinity`: as long as it takes).
 * Resolves true when it settled in time, false when the time ran out first; never rejects. The timer is removed
 * either way.
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = promise.then(
    () => true,
    () => true,
  );
  if (!Number.isFinite(ms)) return settled;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([settled, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms` milliseconds; rejects with the signal's reason as soon as `signal` aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
