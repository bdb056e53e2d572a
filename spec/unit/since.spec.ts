// lib/since.ts: the `since` grammar (parsed locally, never sent as typed) and the x-stream-offset each form becomes.
import { expect } from 'chai';
import { parseSince, streamOffsetArgument } from '../../lib/since.js';

const NOW = Date.parse('2026-11-29T12:00:00Z');

describe('since (lib/since.ts)', () => {
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
