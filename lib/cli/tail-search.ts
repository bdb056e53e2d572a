// What `tail --grep <regex> [-i]` and `--where <path>=<value>` (repeatable) search for, checked before anything
// reaches the broker (a usage error, exit 2). The history step hands it to history(), which filters in the reader;
// the live step tests each event with the same test (lib/search.ts).
import { eventTest, parseWhere, type EventSearch, type EventTest } from '../search.js';
import { usage, type Parsed } from './common.js';

export interface TailSearch {
  /** For history(): undefined when tail searches nothing. */
  search: EventSearch | undefined;
  /** For live events. */
  test: EventTest | undefined;
}

export function tailSearch(values: Parsed['values']): TailSearch {
  if (values['ignore-case'] && values.grep === undefined) throw usage('-i (--ignore-case) makes --grep case-insensitive, and there is no --grep; e.g. --grep "disk full" -i');
  const search: EventSearch = {};
  if (values.where !== undefined && values.where.length > 0) {
    try {
      search.where = parseWhere(values.where);
    } catch (error) {
      throw usage((error as Error).message);
    }
  }
  if (values.grep !== undefined) {
    try {
      search.grep = new RegExp(values.grep, values['ignore-case'] ? 'i' : '');
    } catch (error) {
      throw usage(`--grep: invalid regular expression ${JSON.stringify(values.grep)} (${(error as Error).message}); expected a JavaScript regular expression, e.g. --grep "disk (full|gone)"`);
    }
  }
  const test = eventTest(search);
  return { search: test ? search : undefined, test };
}
