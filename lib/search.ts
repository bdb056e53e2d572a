// Searching events: `where` terms (a dot path into the data, plus the event's level, host and app) and a `grep`
// regular expression, turned into one test of an event. `history()` applies it in the reader (RabbitMQ 3.10 has no
// server-side stream filter: every record of the range comes over the wire and is decoded); `tail --grep/--where`
// and the web view's search build theirs here too, from their text.
import type { EventData, EventMeta } from './wire-format.js';

/** A value a `where` term compares with: a field matches when its text is the same (`42` matches `"42"`). */
export type WhereValue = string | number | boolean | null;

/**
 * What an event must hold: every key must match (AND); a key given several values matches any of them (OR).
 * A key is `level`, `host`, `app` (the event's own) or a dot path into the data (`user.id`); `data.level` reaches a
 * data field that one of those names would hide.
 */
export type Where = Readonly<Record<string, WhereValue | readonly WhereValue[]>>;

/** A search of events; both parts must match when both are given. */
export interface EventSearch {
  /** Field terms, e.g. `{ level: 'critical', 'user.id': 42 }`. */
  where?: Where | undefined;
  /**
   * A regular expression (a string is compiled as one) tested against the event's data as JSON, its level, its
   * host and its app; `/disk/i` for a case-insensitive search.
   */
  grep?: RegExp | string | undefined;
}

/** What a search tests: the event's level, data and metadata. */
export interface SearchedEvent {
  level: string;
  data: EventData;
  meta: Pick<EventMeta, 'host' | 'appId'>;
}

export type EventTest = (event: SearchedEvent) => boolean;

const OWN_FIELDS = new Set(['level', 'host', 'app']);

// The text of a field, or undefined when it is missing or not a single value (an object, an array).
function fieldText(event: SearchedEvent, path: string): string | undefined {
  let value: unknown;
  if (OWN_FIELDS.has(path)) value = path === 'level' ? event.level : path === 'host' ? event.meta.host : event.meta.appId;
  else {
    value = event.data;
    for (const key of (path.startsWith('data.') ? path.slice(5) : path).split('.')) {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
  }
  if (value === null) return 'null';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
}

function checkWhere(where: unknown): [string, string[]][] {
  if (where === null || typeof where !== 'object' || Array.isArray(where)) {
    throw new TypeError(`Expected \`where\` to be an object of field terms like { level: 'critical', 'user.id': 42 }, got ${where === null ? 'null' : Array.isArray(where) ? 'an array' : typeof where}`);
  }
  const terms: [string, string[]][] = [];
  for (const [path, wanted] of Object.entries(where)) {
    if (path === '' || path.split('.').some((key) => key === '')) throw new TypeError(`Invalid \`where\` key ${JSON.stringify(path)}; expected level, host, app or a dot path into the data like user.id`);
    const values: unknown[] = Array.isArray(wanted) ? wanted : [wanted];
    if (values.length === 0 || values.some((value) => value !== null && !['string', 'number', 'boolean'].includes(typeof value))) {
      throw new TypeError(`Invalid \`where\` value for ${JSON.stringify(path)}: expected a string, number, boolean or null (or an array of them), got ${JSON.stringify(wanted) ?? typeof wanted}`);
    }
    terms.push([path, values.map(String)]);
  }
  return terms;
}

function checkGrep(grep: unknown): RegExp {
  if (grep instanceof RegExp) return new RegExp(grep.source, grep.flags.replace(/[gy]/g, '')); // no lastIndex state
  if (typeof grep !== 'string' || grep === '') throw new TypeError(`Expected \`grep\` to be a RegExp or a non-empty string, got ${JSON.stringify(grep) ?? typeof grep}`);
  try {
    return new RegExp(grep);
  } catch (error) {
    throw new TypeError(`Invalid \`grep\` ${JSON.stringify(grep)}: ${(error as Error).message}`);
  }
}

/**
 * The test of an event a search makes, or undefined when it asks nothing (every event matches). Throws a TypeError
 * naming a malformed `where` or `grep`.
 */
export function eventTest(search: EventSearch): EventTest | undefined {
  const terms = search.where === undefined ? [] : checkWhere(search.where);
  const grep = search.grep === undefined ? undefined : checkGrep(search.grep);
  if (terms.length === 0 && grep === undefined) return undefined;
  return (event) => {
    for (const [path, values] of terms) {
      const text = fieldText(event, path);
      if (text === undefined || !values.includes(text)) return false;
    }
    if (grep === undefined) return true;
    const { host, appId } = event.meta;
    return grep.test(event.level) || (host !== undefined && grep.test(host)) || (appId !== undefined && grep.test(appId)) || grep.test(JSON.stringify(event.data));
  };
}

/** `path=value` terms (the CLI's `--where`, the web view's query) as a {@link Where}; a repeated path is an OR. */
export function parseWhere(terms: readonly string[], name = '--where'): Record<string, string[]> {
  const where: Record<string, string[]> = {};
  for (const term of terms) {
    const at = term.indexOf('=');
    const path = term.slice(0, at);
    if (at < 1 || path.split('.').some((key) => key === '')) throw new TypeError(`${name} expects path=value (a dot path into the data, or level, host, app), e.g. ${name} user.id=42; got "${term}"`);
    (where[path] ??= []).push(term.slice(at + 1));
  }
  return where;
}

/**
 * A query as typed in a search box: `path=value` words are where terms, the other words together a text searched
 * for, case-insensitively and literally (no regular expression to get wrong in a browser). `"..."` keeps spaces.
 */
export function parseQuery(query: string): EventSearch {
  const words = [...query.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => ({ text: match[1] ?? match[2] ?? '', quoted: match[1] !== undefined }));
  const terms = words.filter((word) => !word.quoted && /^[^=\s]+=/.test(word.text)).map((word) => word.text);
  const text = words.filter((word) => word.quoted || !/^[^=\s]+=/.test(word.text)).map((word) => word.text).join(' ').trim();
  const search: EventSearch = {};
  if (terms.length > 0) search.where = parseWhere(terms, 'a query term');
  if (text !== '') search.grep = new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
  return search;
}
