// A root hook for every mocha run: when the suite has finished but something a spec opened (a socket, a server, a
// child process) still keeps node running, say what it is and end the run with mocha's own exit code, rather than
// hang until CI's time limit. A spec that leaves a handle open is a bug to fix: this makes it visible.
const GRACE_MS = 20_000;

interface Handle {
  constructor?: { name?: string };
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  pid?: number;
  spawnargs?: string[];
  address?: () => unknown;
}

function describeHandle(handle: Handle): string {
  const name = handle.constructor?.name ?? 'handle';
  if (handle.localPort !== undefined) return `${name} ${handle.localAddress}:${handle.localPort} -> ${handle.remoteAddress ?? '?'}:${handle.remotePort ?? '?'}`;
  if (handle.pid !== undefined) return `${name} pid ${handle.pid} (${(handle.spawnargs ?? []).join(' ').slice(0, 120)})`;
  try {
    const address = handle.address?.();
    if (address) return `${name} listening on ${JSON.stringify(address)}`;
  } catch {
    // not a server
  }
  return name;
}

export const mochaHooks = {
  afterAll(): void {
    // Unref'd: it never keeps node alive itself, and fires only if something else does.
    setTimeout(() => {
      const handles = (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles().map(describeHandle);
      process.stderr.write(`\nmocha: the suite finished ${GRACE_MS / 1000} s ago, but these handles still keep node running (a spec left them open):\n  ${handles.join('\n  ')}\nmocha: exiting with the suite's own result.\n`);
      process.exit();
    }, GRACE_MS).unref();
  },
};
