// Fail-over on a real 3-node RabbitMQ cluster (.ci/cluster: nodes a, b, c on 5673-5675), each fault hitting it
// while a publisher keeps sending numbered events one at a time. Run by `npm run test:cluster`.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { EventBusLogger, type EventBusLoggerOptions } from '../../lib/index.js';
import { next, uniqueName, until } from '../helpers.js';
import { cluster, NODES, PORTS, urls, useCluster, type ClusterNode } from './harness.js';
import { TcpProxy } from '../tcp-proxy.js';
import { Received, Traffic } from './traffic.js';

/** config/rascal-with-history.json: the shipped config with the history stream on. */
async function historyConfig(): Promise<any> {
  return JSON.parse(await readFile(new URL('../../config/rascal-with-history.json', import.meta.url), 'utf8'));
}

describe('on a 3-node cluster', function () {
  useCluster(this);
  let name: string;
  const loggers: EventBusLogger[] = [];
  async function logger(order: ClusterNode[], options: EventBusLoggerOptions = {}): Promise<EventBusLogger> {
    return loggerAt(urls(...order), options);
  }
  async function loggerAt(url: string[], options: EventBusLoggerOptions = {}): Promise<EventBusLogger> {
    const created = new EventBusLogger({ url, name, ...options });
    loggers.push(created);
    await created.start();
    return created;
  }
  /** The node a logger is connected to now, from the URL its last 'ready' named. */
  function nodeOf(ready: { url: string }): ClusterNode {
    const port = Number(/:(\d+)/.exec(ready.url.replace(/^amqps?:\/\//, ''))?.[1]);
    return NODES.find((node) => PORTS[node] === port) as ClusterNode;
  }
  async function readyOn(target: EventBusLogger): Promise<ClusterNode> {
    return nodeOf((await next<[{ url: string }]>(target, 'ready', 120_000))[0]);
  }

  beforeEach(() => {
    name = uniqueName('cluster');
  });

  afterEach(async () => {
    await Promise.all(loggers.splice(0).map((l) => l.stop()));
  });

  it("the publisher's node killed (kill -9): every publish resolves; a listener on another node gets every confirmed event once, in order", async () => {
    const listener = new Received(await logger(['b', 'c', 'a']));
    const publisher = await logger(['a', 'b', 'c'], { listen: false });
    const traffic = new Traffic(publisher);
    await traffic.more(300);
    const movedTo = readyOn(publisher);
    await cluster.kill('a');
    expect(await movedTo, 'the publisher fails over to the next URL').to.equal('b');
    await traffic.more(300);
    await traffic.stop();
    await until(() => listener.ns.length >= traffic.confirmed.length, 'every confirmed event at the listener', 30_000);
    expect(traffic.rejected).to.deep.equal([]);
    listener.expectEveryOnceInOrder(traffic.confirmed);
    expect(publisher.stats().reconnects).to.equal(1);
  });

  it("a listener's node killed: it reconnects to another node, reports what it missed as 'gap', receives again; no publish is rejected", async () => {
    // The listener reaches node c through a proxy that refuses it for a while after b dies, so that it surely
    // misses events (a fast fail-over may miss none) and must say so with 'gap'.
    const proxy = await TcpProxy.start({ host: '127.0.0.1', port: PORTS.c });
    try {
      const viaProxy = new Received(await loggerAt([urls('b')[0] as string, proxy.url()]));
      const witness = new Received(await logger(['c', 'a', 'b']));
      const publisher = await logger(['a', 'b', 'c'], { listen: false });
      const traffic = new Traffic(publisher);
      await traffic.more(300);
      const ready = next<[{ url: string }]>(viaProxy.logger, 'ready', 120_000);
      proxy.down();
      await cluster.kill('b');
      await traffic.more(100);
      proxy.up();
      expect((await ready)[0].url, 'the listener fails over to node c').to.include(`:${proxy.port}`);
      await traffic.more(300);
      await traffic.stop();
      const last = traffic.confirmed.at(-1);
      await until(() => viaProxy.ns.at(-1) === last && witness.ns.at(-1) === last, 'the last event at both listeners', 30_000);
      expect(traffic.rejected, 'publishes rejected while a node died').to.deep.equal([]);
      expect(viaProxy.reconnects).to.equal(1);
      expect(viaProxy.gaps.length, "'gap' reports").to.be.at.least(1);
      viaProxy.expectMissedOnlyWhatGapsReported(traffic.confirmed);
      witness.expectEveryOnceInOrder(traffic.confirmed);
    } finally {
      await proxy.close();
    }
  });

  it("a catch-up (history) listener's node killed: the stream has a replica on every node; the listener resumes on another node and gets every confirmed event once, in order", async () => {
    const config = await historyConfig();
    // The listener comes first, on node b: it declares the stream, whose leader is then on b (the declaring
    // client's node), so the kill takes the stream's leader and the listener's node at once. Right after the
    // previous spec restarted b, the broker may place the leader elsewhere: then try again on a fresh bus.
    let listener: Received | undefined;
    for (let attempt = 1; !listener; attempt++) {
      const candidate = await logger(['b', 'c', 'a'], { config, history: { since: 'now' } });
      const queues = await cluster.ctl<Array<{ name: string; members: string[]; leader: string }>>('a', 'list_queues', 'name', 'members', 'leader');
      const stream = queues.find((q) => q.name === `${name}.history`);
      expect(stream?.members, 'the history stream has a replica on each node').to.have.length(3);
      if (/^[^@]+-b@/.test(stream?.leader ?? '')) {
        listener = new Received(candidate);
      } else {
        expect(attempt, `the stream's leader on b (it is on ${stream?.leader}) within 3 attempts`).to.be.below(3);
        await candidate.stop();
        await cluster.ctl('a', 'delete_queue', `${name}.history`).catch(() => undefined);
        name = uniqueName('cluster');
      }
    }
    const witness = new Received(await logger(['c', 'a', 'b'], { config, history: { since: 'now' } }));
    const publisher = await logger(['a', 'b', 'c'], { config, listen: false, publishTimeout: 60_000 });
    const traffic = new Traffic(publisher);
    await traffic.more(300);
    const movedTo = readyOn(listener.logger);
    await cluster.kill('b');
    expect(await movedTo, 'the listener fails over to the next URL').to.equal('c');
    await traffic.more(300);
    await traffic.stop();
    const last = traffic.confirmed.at(-1);
    await until(() => listener.ns.at(-1) === last && witness.ns.at(-1) === last, 'the last confirmed event at both catch-up listeners', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a late copy would arrive now
    expect(traffic.rejected, 'publishes rejected while a node died').to.deep.equal([]);
    expect(listener.reconnects).to.equal(1);
    listener.expectEveryOnceInOrder(traffic.confirmed);
    witness.expectEveryOnceInOrder(traffic.confirmed);
  });

  it('stop_app and start_app of the node everyone uses: all fail over, every publish resolves, nothing missed goes unreported', async () => {
    const listener = new Received(await logger(['a', 'b', 'c']));
    const publisher = await logger(['a', 'b', 'c'], { listen: false });
    const traffic = new Traffic(publisher);
    await traffic.more(300);
    const moved = Promise.all([readyOn(listener.logger), readyOn(publisher)]);
    await cluster.stopApp('a');
    expect(await moved).to.deep.equal(['b', 'b']);
    await traffic.more(200);
    await cluster.startApp('a');
    await traffic.more(200);
    // a logger placed on node a again works with the others
    const late = new Received(await logger(['a', 'b', 'c']));
    // The publish in flight when `late` became ready may have been routed before its queue was bound: only the
    // events numbered after it are sure to reach it.
    const after = traffic.sentSoFar;
    await traffic.more(100);
    await traffic.stop();
    await until(() => listener.ns.at(-1) === traffic.confirmed.at(-1) && late.ns.at(-1) === traffic.confirmed.at(-1), 'the last event at both listeners', 30_000);
    expect(traffic.rejected).to.deep.equal([]);
    listener.expectMissedOnlyWhatGapsReported(traffic.confirmed);
    expect(late.ns.filter((n) => n > after)).to.deep.equal(traffic.confirmed.filter((n) => n > after));
  });

  it('a rolling restart of all three nodes, one by one: every publish resolves; each listener reports what it missed and receives again', async () => {
    const listeners = [new Received(await logger(['a', 'b', 'c'])), new Received(await logger(['b', 'c', 'a'])), new Received(await logger(['c', 'a', 'b']))];
    const publisher = await logger(['a', 'b', 'c'], { listen: false });
    const traffic = new Traffic(publisher);
    await traffic.more(200);
    for (const node of NODES) {
      await cluster.restart(node);
      await traffic.more(200);
    }
    await traffic.stop();
    const last = traffic.confirmed.at(-1);
    await until(() => listeners.every((l) => l.ns.at(-1) === last), 'the last event at every listener', 30_000);
    expect(traffic.rejected).to.deep.equal([]);
    for (const listener of listeners) {
      listener.expectMissedOnlyWhatGapsReported(traffic.confirmed);
      expect(listener.reconnects, 'each listener lost its node once').to.be.at.least(1);
    }
  });
});
