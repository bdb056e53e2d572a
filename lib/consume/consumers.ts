// Which consumers a logger runs, wired to one delivery pipeline and registered as session setup steps: the live
// queue (a temporary queue per logger, bound for the levels something listens to), or a catch-up listener on the
// history stream; and the history stream declared (or, on a bus without history, a notice in stats() when someone
// else's history stream goes unbound).
import type { Bus } from '../bus/connection.js';
import type { BusSession } from '../bus/session.js';
import type { Report } from '../events.js';
import type { ResolvedOptions } from '../options.js';
import type { Stats } from '../stats.js';
import type { Topology } from '../topology.js';
import { EVERY_LEVEL, type EventData, type EventMeta } from '../wire-format.js';
import { Delivery, DeliveryGate } from './delivery.js';
import { DEFAULTS } from '../options.js';
import { READ_PREFETCH } from './stream.js';
import createDebug from 'debug';
import { HistoryListener } from './history-listener.js';
import { checkUnboundHistory, declareHistory, warnOnce } from './history-stream.js';
import { LiveQueue } from './live-queue.js';
import { SequenceWindow } from './sequence.js';
import type { AmqpChannel } from '../rascal.js';

const debug = createDebug('event-bus-logger:consumers');

export interface ConsumerParts {
  bus: Bus;
  session: BusSession;
  exchange: string;
  topology: Topology;
  settings: ResolvedOptions;
  instanceId: string;
  stats: Stats;
  report: Report;
  handle: (level: string, data: EventData, meta: EventMeta<string>) => void | Promise<unknown>;
  /** The levels something listens to now (the live queue binds those; see `topology.listenAlways`). */
  wanted: () => ReadonlySet<string>;
}

export interface Consumers {
  delivery: Delivery<string>;
  liveQueue: LiveQueue | undefined;
  historyListener: HistoryListener | undefined;
  /** The queue or stream consumed, once declared. */
  readonly queue: string | undefined;
  /** The levels consumed now. */
  readonly levels: string[];
  /**
   * Brings the live queue's bindings in line with `wanted()`; resolves once the broker confirmed it. `retry`: the
   * levels a new listener listens to, asked again if the broker refused them before.
   */
  update(retry?: readonly string[]): Promise<void>;
  /** Resolves once every update asked for so far is done (during an outage: once reconnected); rejects with `ACCESS` for a refused bind. */
  listening(): Promise<void>;
  /** Delivers nothing more of what a catch-up listener read ahead (the logger is stopping). */
  close(): void;
  /** Stops consuming (within `timeout` ms) before the logger waits for the rest. */
  stop(consumer: AmqpChannel, timeout: number): Promise<void>;
}

/** Builds the consumers of a logger and registers their setup steps on its session, after the exchange's. */
export function wireConsumers({ bus, session, exchange, topology, settings, instanceId, stats, report, handle, wanted }: ConsumerParts): Consumers {
  const sequence = settings.history ? new SequenceWindow() : undefined;
  const delivery = new Delivery<string>({ levels: topology.listenAny ? EVERY_LEVEL : new Set(topology.listenLevels), maxMessageBytes: settings.maxMessageBytes, stats, report, handle, ...(sequence ? { sequence } : {}) });
  // A catch-up listener reads ahead as history() does (unless the logger's prefetch was set), while no more than
  // `prefetch` events are handled at once, as on the live queue.
  const gate = settings.history && topology.history ? new DeliveryGate(delivery, settings.prefetch) : undefined;
  const historyListener =
    settings.history && topology.history && sequence && gate
      ? new HistoryListener({
          bus,
          stream: topology.history.stream,
          since: settings.history.since,
          prefetch: settings.prefetch === DEFAULTS.prefetch ? READ_PREFETCH : settings.prefetch,
          skip: new Set(topology.levels.filter((level) => !topology.listenLevels.includes(level))),
          delivery: gate,
          sequence,
          report,
          stats,
        })
      : undefined;
  const liveQueue = topology.listenLevels.length === 0 || historyListener ? undefined : new LiveQueue({ exchange, topology, settings, instanceId, delivery, wanted });
  if (topology.history) session.addSetup(declareHistory(bus, exchange, topology.history, warnOnce()));
  else {
    session.addSetup(
      checkUnboundHistory(bus, topology.historyName, (notice) => {
        debug(notice);
        stats.notices.push(notice);
      }),
    );
  }
  if (liveQueue) session.addSetup(liveQueue.setup);
  if (historyListener) session.addSetup(historyListener.setup);
  return {
    delivery,
    liveQueue,
    historyListener,
    get queue() {
      return historyListener ? topology.history?.stream : liveQueue?.name;
    },
    get levels() {
      return historyListener ? [...topology.listenLevels] : (liveQueue?.levels ?? []);
    },
    update: (retry) => liveQueue?.update(retry) ?? Promise.resolve(),
    listening: () => liveQueue?.listening() ?? Promise.resolve(),
    close: () => gate?.close(),
    async stop(consumer, timeout) {
      if (liveQueue) await liveQueue.stop(consumer, timeout);
      if (historyListener) await historyListener.stop(consumer, timeout);
    },
  };
}
