// Child process: runs one in-process workload (bench/workloads.ts) for one client and reports the result.
import { loadAdapter } from './clients/registry.js';
import { childArgs, parent } from './ipc.js';
import { IN_PROCESS, type WorkerArgs } from './workloads.js';

await parent.run(async () => {
  const { client, workload, connect, params } = childArgs<WorkerArgs>();
  const adapter = await loadAdapter(client);
  const result = await IN_PROCESS[workload]({ adapter, connect, params, receive: parent.receive, send: parent.send });
  await parent.send({ type: 'result', result });
});
