// The fault-schedule checker's own bookkeeping (check/faults/world.ts): a call's time is the time its own promise
// took. The end of every schedule stops every logger again; a stop that had settled long before must keep its time
// (seed 747311393 reported "other0.stop() … settled after 5569 ms, over its bound" for a stop that took 1 ms).
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { EventBusLogger } from '../../lib/index.js';
import type { FaultProxy } from '../../check/faults/proxy.js';
import { Actor, follow, sleep, type Call } from '../../check/faults/world.js';
import { gaveUpEarly } from '../../check/faults/invariants.js';

/** A logger whose stop() resolves at once, as a logger in its start's outage does. */
function stubLogger(): { logger: EventBusLogger; stops: number } {
  const stub = Object.assign(new EventEmitter(), { stops: 0 });
  const stopped = Promise.resolve();
  const logger = Object.assign(stub, { stop: () => (stub.stops++, stopped) });
  return { logger: logger as unknown as EventBusLogger, get stops() { return stub.stops; } };
}

describe('fault checker bookkeeping', () => {
  it('keeps the time of a stop() that settled, when the end of the schedule stops the logger again', async () => {
    const stub = stubLogger();
    const actor = new Actor('other0', stub.logger, {} as FaultProxy);
    await actor.stop();
    const first = { ...actor.stopCall! };
    await sleep(60);
    await actor.stop();
    expect(actor.stopCall!.calledAt).to.equal(first.calledAt);
    expect(actor.stopCall!.settledAt).to.equal(first.settledAt);
    expect(actor.stopCall!.settledAt! - actor.stopCall!.calledAt).to.be.below(50);
    expect(stub.stops).to.equal(2);
  });

  it('records the first settling of a call, not a later follow of the same promise', async () => {
    const call: Call = { what: 'x', calledAt: performance.now(), bound: 1000 };
    const settled = Promise.reject(Object.assign(new Error('no'), { code: 'STOPPED' }));
    await follow(call, settled);
    const at = call.settledAt;
    await sleep(30);
    await follow(call, Promise.resolve());
    expect(call.settledAt).to.equal(at);
    expect(call.outcome).to.equal('STOPPED');
  });

  it('flags a read that failed with CONNECT before its resumeTimeout ran out, and only that', () => {
    const read = (what: string, took: number, outcome: string): Call => ({ what, calledAt: 1000, settledAt: 1000 + took, bound: 9000, outcome });
    const reads = [read('history() #0', 40, 'CONNECT'), read('history() #1', 1200, 'CONNECT'), read('history() #2', 40, 'STOPPED'), read('history() #3', 40, 'ok'), read('history() #4', 999.4, 'CONNECT')];
    expect(gaveUpEarly(reads, 1000)).to.deep.equal(['history() #0 failed with CONNECT 40 ms after it was called, before its resumeTimeout of 1000 ms ran out']);
  });
});
