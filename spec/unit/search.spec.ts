// The search of events shared by history(), tail --grep/--where and the web view: where terms, grep, and their text.
import { expect } from 'chai';
import { eventTest, parseQuery, parseWhere, type EventSearch, type SearchedEvent } from '../../lib/search.js';

const event = (level: string, data: Record<string, unknown>, host?: string, appId?: string): SearchedEvent => ({ level, data, meta: { host, appId } });
const disk = event('critical', { disk: 'full', user: { id: 42, name: 'Ada' }, ok: false, gone: null, tags: ['a'], level: 'inner' }, 'web-1', 'billing');

function matches(search: EventSearch, searched: SearchedEvent = disk): boolean {
  const test = eventTest(search);
  if (!test) throw new Error('expected a test');
  return test(searched);
}

describe('search', () => {
  it('asks nothing of an event when it has no where and no grep', () => {
    expect(eventTest({})).to.equal(undefined);
  });

  describe('where', () => {
    it('follows a dot path into the data and compares the text of a single value', () => {
      expect(matches({ where: { 'user.id': 42 } })).to.equal(true);
      expect(matches({ where: { 'user.id': '42' } })).to.equal(true);
      expect(matches({ where: { 'user.id': 43 } })).to.equal(false);
      expect(matches({ where: { 'user.name': 'Ada' } })).to.equal(true);
      expect(matches({ where: { ok: false } })).to.equal(true);
      expect(matches({ where: { ok: 'false' } })).to.equal(true);
      expect(matches({ where: { gone: null } })).to.equal(true);
    });

    it('never matches a missing field, an object or an array', () => {
      expect(matches({ where: { 'user.email': 'x' } })).to.equal(false);
      expect(matches({ where: { 'disk.size': 'full' } })).to.equal(false);
      expect(matches({ where: { user: '[object Object]' } })).to.equal(false);
      expect(matches({ where: { tags: 'a' } })).to.equal(false);
      expect(matches({ where: { toString: 'x' } })).to.equal(false);
    });

    it('takes level, host and app from the event; data. reaches the data field they hide', () => {
      expect(matches({ where: { level: 'critical', host: 'web-1', app: 'billing' } })).to.equal(true);
      expect(matches({ where: { level: 'inner' } })).to.equal(false);
      expect(matches({ where: { 'data.level': 'inner' } })).to.equal(true);
      expect(matches({ where: { host: 'web-2' } })).to.equal(false);
      expect(matches({ where: { host: 'x' } }, event('info', {}))).to.equal(false);
    });

    it('needs every key (AND), and any of the values given to one key (OR)', () => {
      expect(matches({ where: { level: 'critical', 'user.id': 7 } })).to.equal(false);
      expect(matches({ where: { level: ['error', 'critical'], 'user.id': [7, 42] } })).to.equal(true);
    });

    it('refuses malformed terms with a TypeError naming them', () => {
      expect(() => eventTest({ where: 'level=critical' as never })).to.throw(TypeError, /Expected `where` to be an object of field terms.*got string/);
      expect(() => eventTest({ where: { 'user..id': 1 } })).to.throw(TypeError, /Invalid `where` key "user\.\.id"/);
      expect(() => eventTest({ where: { level: {} as never } })).to.throw(TypeError, /Invalid `where` value for "level".*got \{\}/);
      expect(() => eventTest({ where: { level: [] } })).to.throw(TypeError, /Invalid `where` value for "level"/);
    });
  });

  describe('grep', () => {
    it("matches the data's JSON, the level, the host and the app", () => {
      expect(matches({ grep: /"disk":"full"/ })).to.equal(true);
      expect(matches({ grep: '^crit' })).to.equal(true);
      expect(matches({ grep: /^web-\d$/ })).to.equal(true);
      expect(matches({ grep: /^billing$/ })).to.equal(true);
      expect(matches({ grep: /FULL/ })).to.equal(false);
      expect(matches({ grep: /FULL/i })).to.equal(true);
      expect(matches({ grep: /nowhere/ })).to.equal(false);
    });

    it('gives the same answer every time, even for a global regular expression', () => {
      const test = eventTest({ grep: /full/g });
      expect([test?.(disk), test?.(disk), test?.(disk)]).to.deep.equal([true, true, true]);
    });

    it('needs where and grep both to match when both are given', () => {
      expect(matches({ where: { level: 'critical' }, grep: /full/ })).to.equal(true);
      expect(matches({ where: { level: 'info' }, grep: /full/ })).to.equal(false);
      expect(matches({ where: { level: 'critical' }, grep: /empty/ })).to.equal(false);
    });

    it('refuses a regular expression that does not compile, naming it', () => {
      expect(() => eventTest({ grep: '(' })).to.throw(TypeError, /^Invalid `grep` "\(": /);
      expect(() => eventTest({ grep: '' })).to.throw(TypeError, /Expected `grep` to be a RegExp or a non-empty string/);
    });
  });

  describe('text', () => {
    it('parseWhere: path=value terms, a repeated path an OR, the value may hold =', () => {
      expect(parseWhere(['level=critical', 'user.id=42', 'level=error', 'q=a=b'])).to.deep.equal({ level: ['critical', 'error'], 'user.id': ['42'], q: ['a=b'] });
      expect(() => parseWhere(['critical'])).to.throw(TypeError, '--where expects path=value (a dot path into the data, or level, host, app), e.g. --where user.id=42; got "critical"');
      expect(() => parseWhere(['=x'])).to.throw(TypeError, /got "=x"/);
      expect(() => parseWhere(['a.=x'])).to.throw(TypeError, /got "a\.=x"/);
    });

    it('parseQuery: path=value words are terms, the other words a literal, case-insensitive text', () => {
      const search = parseQuery('level=critical disk (full) user.id=42');
      expect(search.where).to.deep.equal({ level: ['critical'], 'user.id': ['42'] });
      expect(search.grep).to.deep.equal(/disk \(full\)/i);
      expect(parseQuery('"a = b"').grep).to.deep.equal(/a = b/i);
      expect(parseQuery('  ')).to.deep.equal({});
      const test = eventTest(parseQuery('level=critical "DISK"'));
      expect(test?.(disk)).to.equal(true);
    });
  });
});
