// A promise raced against a time limit, the one way the library bounds a wait on the broker (connecting, setting up,
// resuming a history read, the CLI's exchange check).
/**
 * Resolves or rejects as `promise` does, unless `ms` pass first: then rejects with `timedOut()`. The timer is
 * cleared either way. `promise` itself goes on: a late result (a connection opened after the deadline) is the
 * caller's to close, and the caller should handle its rejection.
 */
export async function within<T>(promise: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(timedOut()), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
