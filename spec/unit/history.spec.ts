// The pure parts of history: the `since` grammar (parsed locally, never sent as typed), the x-stream-offset each form
// becomes, the windowed duplicate check of history readers, and the history part of the config.
import { expect } from 'chai';
import { SEQUENCE_WINDOW, SequenceWindow } from '../../lib/consume/sequence.js';
import { parseSince, streamOffsetArgument } from '../../lib/since.js';
import { resolveOptions } from '../../lib/options.js';
import { loadTopology } from '../../lib/topology.js';
import { shippedConfig } from '../helpers.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const HISTORY_CONFIG = new URL('../../config/rascal-with-history.json', import.meta.url).pathname;

describe('history: since', () => {
  const good: Array<[unknown, unknown]> = [
    ['now', { kind: 'now' }],
    ['start', { kind: 'start' }],
    ['0', { kind: 'offset', offset: 0 }],
    ['12345', { kind: 'offset', offset: 12345 }],
    [42, { kind: 'offset', offset: 42 }],
    ['90s', { kind: 'time', time: new Date(NOW - 90_000) }],
    ['10m', { kind: 'time', time: new Date(NOW - 600_000) }],
    ['2h', { kind: 'time', time: new Date(NOW - 7_200_000) }],
    ['7d', { kind: 'time', time: new Date(NOW - 7 * 86_400_000) }],
    ['2026-11-29T03:00:00Z', { kind: 'time', time: new Date('2026-11-29T03:00:00Z') }],
    ['2026-11-29T03:00+01:00', { kind: 'time', time: new Date('2026-11-29T02:00:00Z') }],
    ['2026-11-29T03:00:00.250Z', { kind: 'time', time: new Date('2026-11-29T03:00:00.250Z') }],
    ['2026-11-29', { kind: 'time', time: new Date('2026-11-29T00:00:00Z') }],
    [new Date('2026-01-02T03:04:05Z'), { kind: 'time', time: new Date('2026-01-02T03:04:05Z') }],
  ];
  for (const [value, expected] of good) {
    it(`parses ${value instanceof Date ? 'a Date' : JSON.stringify(value)}`, () => {
      expect(parseSince(value, 'since', NOW)).to.deep.equal(expected);
    });
  }

  // Each of these, sent as typed, would close the whole connection on RabbitMQ 3.10 or mean something else.
  const bad: unknown[] = ['', 'first', 'last', 'next', 'Start', '-1', '1.5', '10 m', '10M', '1h30m', '0s', '10min', 'P1D', '2026-13-45T00:00:00Z', '2026-11-29T03:00:00', 'yesterday', -1, 1.5, Number.NaN, Infinity, null, undefined, {}, [], true, new Date(Number.NaN)];
  for (const value of bad) {
    it(`rejects ${typeof value === 'string' ? JSON.stringify(value) : String(value)} with a TypeError naming the accepted forms`, () => {
      expect(() => parseSince(value, 'since', NOW)).to.throw(TypeError, /^Invalid `since` .*; expected "now", "start", a duration <int>s\|m\|h\|d \(e\.g\. "10m"\), an ISO 8601 time .*, or a stream offset/);
    });
  }

  it('becomes an x-stream-offset the broker accepts: next, first, an integer, or an AMQP timestamp in seconds', () => {
    expect(streamOffsetArgument({ kind: 'now' })).to.equal('next');
    expect(streamOffsetArgument({ kind: 'start' })).to.equal('first');
    expect(streamOffsetArgument({ kind: 'offset', offset: 7 })).to.equal(7);
    expect(streamOffsetArgument({ kind: 'time', time: new Date('2026-11-29T03:00:00.900Z') })).to.deep.equal({ '!': 'timestamp', value: Date.parse('2026-11-29T03:00:00Z') / 1000 });
  });
});

describe('history: SequenceWindow', () => {
  it('delivers in-order events and drops an exact re-send', () => {
    const window = new SequenceWindow();
    for (let seq = 1; seq <= 5; seq++) expect(window.check('A', 'info', seq).kind, `#${seq}`).to.equal('next');
    expect(window.check('A', 'info', 3)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'info', 5)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'critical', 3).kind, 'another level is another sequence').to.equal('next');
  });

  it('delivers, late, a re-sent event whose first copy never reached the stream; its second re-send is a duplicate', () => {
    const window = new SequenceWindow();
    window.check('A', 'info', 1);
    window.check('A', 'info', 2);
    // 3 and 4 were lost before the stream; the publisher re-sends 3, 4 after 5 went through.
    expect(window.check('A', 'info', 5)).to.deep.equal({ kind: 'gap', expected: 3, missed: 2 });
    expect(window.check('A', 'info', 3)).to.deep.equal({ kind: 'late' });
    expect(window.check('A', 'info', 4)).to.deep.equal({ kind: 'late' });
    expect(window.check('A', 'info', 3)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'info', 5)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'info', 6)).to.deep.equal({ kind: 'next' });
  });

  it('remembers a window of numbers below the highest: older ones are taken for duplicates', () => {
    const window = new SequenceWindow(10, 64);
    window.check('A', 'info', 1);
    expect(window.check('A', 'info', 100).kind).to.equal('gap');
    expect(window.check('A', 'info', 37), 'within 64 of 100, never seen').to.deep.equal({ kind: 'late' });
    expect(window.check('A', 'info', 36), 'beyond the window').to.deep.equal({ kind: 'duplicate' });
    // The bitmap is a ring: numbers seen a window ago do not shadow new ones.
    expect(window.check('A', 'info', 101)).to.deep.equal({ kind: 'next' });
    expect(window.check('A', 'info', 165)).to.deep.equal({ kind: 'gap', expected: 102, missed: 63 });
    expect(window.check('A', 'info', 103), 'skipped over by the jump to 165').to.deep.equal({ kind: 'late' });
  });

  it('is bounded: beyond its capacity it forgets the pair heard from least recently', () => {
    const window = new SequenceWindow(2);
    window.check('A', 'info', 1);
    window.check('B', 'info', 1);
    window.check('A', 'info', 2);
    window.check('C', 'info', 1);
    expect(window.size).to.equal(2);
    expect(window.check('A', 'info', 2).kind, 'A was kept').to.equal('duplicate');
    expect(window.check('B', 'info', 1).kind, 'B was forgotten').to.equal('next');
    expect(SEQUENCE_WINDOW).to.be.at.least(10_000);
  });
});

describe('history: options and config', () => {
  it('history: { since } parses since; a bad one is a TypeError naming the forms', () => {
    expect(resolveOptions({ history: { since: '10m' } }).history?.since.kind).to.equal('time');
    expect(resolveOptions({}).history).to.equal(undefined);
    expect(() => resolveOptions({ history: { since: '10 minutes' } })).to.throw(TypeError, /Invalid `history.since` "10 minutes"; expected "now", "start"/);
    expect(() => resolveOptions({ history: {} as never })).to.throw(/Expected `history` to be \{ since \}/);
    expect(() => resolveOptions({ history: { since: 'start' }, listen: false })).to.throw(/`history` and `listen: false` contradict/);
    expect(() => resolveOptions({ history: { since: 'start' }, resumable: true })).to.throw(/`history` and `resumable` contradict/);
  });

  it('the shipped config declares no history; its history stream name follows the bus', async () => {
    const topology = await loadTopology({ name: 'bus_a' });
    expect(topology.history).to.equal(undefined);
    expect(topology.historyName).to.equal('bus_a.history');
  });

  it('config/rascal-with-history.json: <exchange>.history, a durable stream bound with #, out of what Rascal declares', async () => {
    const topology = await loadTopology({ config: HISTORY_CONFIG, name: 'bus_b' });
    expect(topology.history).to.deep.equal({
      stream: 'bus_b.history',
      options: { durable: true, arguments: { 'x-queue-type': 'stream', 'x-max-age': '7D', 'x-max-length-bytes': 1073741824, 'x-stream-max-segment-size-bytes': 16777216 } },
      bindingKeys: ['#'],
    });
    const vhost = (topology.rascalConfig.vhosts as Record<string, { queues: object; bindings: object }>)['/'];
    expect(vhost?.queues).to.not.have.property('history');
    expect(vhost?.bindings).to.not.have.property('history');
    expect(topology.levels).to.deep.equal(['info', 'critical']);
  });

  const badHistory: Array<[string, (config: any) => void, RegExp]> = [
    ['a history key that is not a string', (c) => (c.eventBusLogger.history = 3), /Expected `eventBusLogger.history` .* got `3` \(number\)/],
    ['a history key with no queue', (c) => (c.eventBusLogger.history = 'nope'), /names the history stream "nope" .* has no queue "nope"; turn history on/],
    ['a history queue that is not a stream', (c) => delete c.vhosts['/'].queues.history.options.arguments['x-queue-type'], /must be a stream: expected `options.arguments\["x-queue-type"\]` "stream"/],
    ['a non-durable stream', (c) => (c.vhosts['/'].queues.history.options.durable = false), /sets `durable: false`; a stream must be durable/],
    ['an unbound stream', (c) => delete c.vhosts['/'].bindings.history, /is bound to nothing; add a binding .*"bindingKey": "#"/],
  ];
  for (const [what, edit, message] of badHistory) {
    it(`rejects ${what} with a CONFIG error`, async () => {
      const config = JSON.parse(JSON.stringify((await import(HISTORY_CONFIG, { with: { type: 'json' } })).default));
      edit(config);
      const error = await loadTopology({ config }).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(error?.code).to.equal('CONFIG');
      expect(error?.message).to.match(message);
    });
  }

  it('the shipped config is transient: no stream anywhere in it', async () => {
    expect(JSON.stringify(await shippedConfig())).to.not.include('stream');
  });
});
