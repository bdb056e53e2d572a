// How `tail` prints an event: the pure formatting functions (a child process has no TTY).
import { expect } from 'chai';
import { formatJson, formatPretty, jsonLine, tailRecord, useColor } from '../../lib/bridges/event-record.js';

const meta = {
  timestamp: new Date('2025-01-02T03:04:05.123Z'),
  host: 'web-1',
  pid: 4242,
  appId: 'server',
  messageId: '6f1c1e0e-4d0f-4a39-9a55-0c8a3f0c6c11',
};

describe('tail formatting (lib/bridges/event-record.ts)', () => {
  it('makes the NDJSON record of an event, null for what the publisher did not send', () => {
    expect(tailRecord('critical', { disk: 'full' }, meta)).to.deep.equal({
      time: '2025-01-02T03:04:05.123Z',
      level: 'critical',
      host: 'web-1',
      pid: 4242,
      appId: 'server',
      messageId: meta.messageId,
      data: { disk: 'full' },
    });
    const bare = tailRecord('info', {}, { timestamp: meta.timestamp, host: undefined, pid: undefined, appId: undefined, messageId: undefined });
    expect(JSON.parse(formatJson(bare))).to.deep.equal({ time: '2025-01-02T03:04:05.123Z', level: 'info', host: null, pid: null, appId: null, messageId: null, data: {} });
  });

  it('formats one readable line without colour', () => {
    const line = formatPretty(tailRecord('critical', { disk: 'full', free: 0 }, meta), { color: false });
    expect(line).to.equal('2025-01-02T03:04:05.123Z CRITICAL web-1/server {"disk":"full","free":0}');
    // Always to the millisecond, .000 too: the times of a column line up (it hid .000, when times were whole seconds).
    expect(formatPretty(tailRecord('info', {}, { ...meta, timestamp: new Date('2025-01-02T03:04:05.000Z') }), { color: false })).to.match(/^2025-01-02T03:04:05\.000Z INFO /);
    expect(formatPretty(tailRecord('info', { a: 1 }, { ...meta, host: undefined, appId: undefined }), { color: false })).to.equal('2025-01-02T03:04:05.123Z INFO     -/- {"a":1}');
  });

  it('colours the time, level and source, and nothing else changes', () => {
    const record = tailRecord('critical', { disk: 'full' }, meta);
    const coloured = formatPretty(record, { color: true });
    expect(coloured).to.include('\u001b[1;31mCRITICAL').and.include('\u001b[2m2025-01-02T03:04:05.123Z\u001b[0m');
    expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).to.equal(formatPretty(record, { color: false }));
    expect(formatPretty(tailRecord('info', {}, meta), { color: true })).to.include('\u001b[32mINFO');
    expect(formatPretty(tailRecord('warning', {}, meta), { color: true })).to.include('\u001b[33mWARNING');
  });

  it('lets no control character of the event reach the terminal', () => {
    const record = tailRecord('info', { text: 'a\u001b[2Jb\u009bc\u0007' }, { ...meta, host: 'evil\u001b[31m', appId: 'app\r\n' });
    for (const line of [formatPretty(record, { color: false }), formatJson(record)]) {
      // eslint-disable-next-line no-control-regex
      const controls = line.match(/[\u0000-\u001f\u007f-\u009f]/g) ?? [];
      expect(controls, line).to.deep.equal([]);
    }
    // Still the same JSON value.
    expect(JSON.parse(formatJson(record)).data).to.deep.equal({ text: 'a\u001b[2Jb\u009bc\u0007' });
  });

  it('writes the NDJSON line without the record byte for byte as formatJson(tailRecord(...)) does', () => {
    const strings = ['', 'web-1', 'a"b\\c', 'tab\there\n', 'esc\u001b[2J', 'c1\u009bx\u0085', 'del\u007f', 'caf\u00e9 \u2028 \u{1f600}', 'lone\ud800x', 'end\udc00', '\u0000'];
    const cases: [string, Record<string, unknown>, Parameters<typeof tailRecord>[2]][] = [
      ['info', { n: 1, msg: 'benchmark event' }, { ...meta, offset: 41 }],
      ['info', {}, { timestamp: meta.timestamp, host: undefined, pid: undefined, appId: undefined, messageId: undefined }],
      ['critical', { nested: { list: [1, 'two', null, true, 1e21, -0, 0.1] } }, { ...meta, pid: Number.NaN, offset: Number.POSITIVE_INFINITY }],
      ['info', { a: 1 }, { ...meta, pid: -0, offset: 0 }],
    ];
    for (const text of strings) {
      cases.push([text, { [text]: text }, { ...meta, host: text, appId: text, messageId: text }]);
      // The same string twice in a row, then another (the line remembers the last level, host and appId).
      cases.push([text, { text }, { ...meta, host: text, appId: text, messageId: `${text}!` }]);
      cases.push(['info', { text }, { ...meta, timestamp: new Date(meta.timestamp.getTime() + text.length) }]);
    }
    // One field of the line's head changed at a time, from one line to the next.
    for (const change of [{ pid: 1 }, { pid: 2 }, { host: 'web-2' }, { appId: 'worker' }, { appId: undefined }, { host: undefined }, { timestamp: new Date(0) }]) {
      cases.push(['info', { n: 1 }, { ...meta, ...change }], ['info', { n: 2 }, meta], ['debug', { n: 3 }, meta]);
    }
    for (const [level, data, eventMeta] of cases) {
      expect(jsonLine(level, data, eventMeta)).to.equal(formatJson(tailRecord(level, data, eventMeta)));
    }
    expect(() => jsonLine('info', {}, { ...meta, timestamp: new Date(Number.NaN) })).to.throw(RangeError);
  });

  it('colours only on a TTY and when NO_COLOR is unset or empty', () => {
    expect(useColor({ isTTY: true }, {})).to.equal(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: '' })).to.equal(true);
    expect(useColor({ isTTY: true }, { NO_COLOR: '1' })).to.equal(false);
    expect(useColor({ isTTY: false }, {})).to.equal(false);
    expect(useColor({}, {})).to.equal(false);
  });
});

describe('tail formatting: stacks of Errors in the data', () => {
  const error = new Error('disk full');
  error.stack = 'Error: disk full\n    at check (/app/disk.js:10:11)\n    at main (/app/index.js:3:1)';

  it('prints a stack below the line, one frame a line, instead of literal \\n in the JSON', () => {
    const data = { err: { type: 'Error', message: 'disk full', stack: error.stack }, msg: 'disk full' };
    const text = formatPretty(tailRecord('critical', data, meta), { color: false });
    expect(text.split('\n')).to.deep.equal([
      '2025-01-02T03:04:05.123Z CRITICAL web-1/server {"err":{"type":"Error","message":"disk full","stack":"[stack below]"},"msg":"disk full"}',
      '  err.stack:',
      '    Error: disk full',
      '        at check (/app/disk.js:10:11)',
      '        at main (/app/index.js:3:1)',
    ]);
    expect(text).to.not.include('\\n');
    // NDJSON keeps the data as it is.
    expect(JSON.parse(formatJson(tailRecord('critical', data, meta))).data).to.deep.equal(data);
  });

  it('finds stack frames under any key and in arrays, dims them in colour, and lets no control character through', () => {
    const data = { errors: [{ trace: 'TypeError: x\n    at f (a.js:1:1)\u001b[2J' }] };
    const text = formatPretty(tailRecord('critical', data, meta), { color: true });
    const plain = text.replace(/\u001b\[[0-9;]*m/g, '');
    expect(plain.split('\n').slice(1)).to.deep.equal(['  errors[0].trace:', '    TypeError: x', '        at f (a.js:1:1)?[2J']);
    expect(text.split('\n')[1]).to.match(/^\u001b\[2m/);
    // A one-line string is no stack.
    expect(formatPretty(tailRecord('info', { stack: 'just words' }, meta), { color: false })).to.equal('2025-01-02T03:04:05.123Z INFO     web-1/server {"stack":"just words"}');
  });
});
