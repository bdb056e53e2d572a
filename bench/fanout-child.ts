// Child process of the fan-out workload: a listener counts every event (distinct numbers, duplicates); the
// publisher starts all of them at once when told to go and awaits the confirms. Both close when told to.
import { now } from './clients/common.js';
import { loadAdapter } from './clients/registry.js';
import { childArgs, parent, type Message } from './ipc.js';
import { Tally, event, warmUp, type FanoutArgs } from './workloads.js';

await parent.run(async () => {
  const { client, role, connect, count, warmup } = childArgs<FanoutArgs>();
  const endpoint = await (await loadAdapter(client)).connect(connect);
  const closing = parent.receive('close');
  let report: Message = { type: 'closed' };
  try {
    if (role === 'listener') {
      const tally = new Tally(count);
      endpoint.onEvent((e) => tally.add(e.n));
      await parent.send({ type: 'ready' });
      if (await Promise.race([tally.all(3600_000), closing.then(() => false)])) await parent.send({ type: 'done' });
      report = { type: 'closed', distinct: tally.distinct, duplicates: tally.duplicates, last: tally.last };
    } else {
      endpoint.onEvent(() => {});
      await warmUp(endpoint, warmup, count); // numbers the listeners ignore
      await parent.send({ type: 'ready' });
      await parent.receive('go');
      const start = now();
      await Promise.all(Array.from({ length: count }, (_, n) => endpoint.publish(event(n))));
      await parent.send({ type: 'published', start, end: now() });
    }
  } finally {
    const close = await closing.catch(() => ({ type: 'close', deleteExchange: true }));
    await endpoint.close({ deleteExchange: Boolean(close.deleteExchange) });
  }
  await parent.send(report);
});
