// Event data: what an event's data may hold, and how it becomes the JSON body of its message. The top level is a
// plain object; nested values are read as JSON.stringify reads them, except that an Error is sent as its fields and
// a Map or Set is refused, with the path of the value named. The rest of the message is in wire-format.ts.
import { inspect, types } from 'node:util';
import { describeError, maskUrl } from './errors.js';

/** The data of one event: a JSON object. */
export type EventData = Record<string, unknown>;

/**
 * What `info()`, `critical()`, each level's method and `publish(level, ...)` take after the level, as pino takes it:
 * the data; the data and a message (`{ ...data, msg }`); a message alone (`{ msg }`); an Error, with or without a
 * message (`{ err, msg }`, the message defaulting to the Error's).
 */
export type LogArguments = [data: EventData, message?: string] | [message: string] | [error: Error, message?: string];

const CALL_FORMS = '(data), (data, message), (message) or (error, message?), e.g. info({ user: \'ann\' }, \'signed in\')';

/**
 * The event data of one call to a publish method: `first` and `message` are its arguments after the level, `count`
 * how many there were. Plain data alone is returned as it is (encodeData checks it); the other forms become a new
 * object. Throws a TypeError for a form it does not know.
 */
export function logData(first: unknown, message: unknown, count: number): unknown {
  if (count <= 1 || (count === 2 && message === undefined)) {
    if (isPlainObject(first)) return first;
    if (typeof first === 'string') return { msg: first };
    if (isError(first)) return { err: first, msg: first.message };
    return first;
  }
  if (count > 2 || typeof message !== 'string') {
    const extra = count > 2 ? `${count} arguments` : `${describeGiven(message)} as the message`;
    throw new TypeError(`Expected ${CALL_FORMS}, got ${extra}${typeof first === 'string' ? PRINTF : ''}`);
  }
  if (isError(first)) return { err: first, msg: message };
  if (isPlainObject(first)) return { ...first, msg: message };
  throw new TypeError(`Expected ${CALL_FORMS}, got ${describeGiven(first)} before the message${typeof first === 'string' ? PRINTF : ''}`);
}

const PRINTF = ' (a message takes no arguments: format it first, e.g. with a template literal)';

function isError(value: unknown): value is Error {
  return value instanceof Error || types.isNativeError(value);
}

/** True for an object that is neither null nor an array: a JSON object, as configs, option maps and log records are. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for a plain object: `{...}`, `Object.create(null)` or JSON.parse's objects; not an array, Date, Map, class... */
export function isPlainObject(value: unknown): value is EventData {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

// What a value is, for an error message: "null", "a string `'x'`", "a Date `2026-...`", "a Point `Point { x: 1 }`".
function describeGiven(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  const kind = Array.isArray(value)
    ? 'array'
    : typeof value === 'object' || typeof value === 'function'
      ? ((value as { constructor?: { name?: unknown } }).constructor?.name as string | undefined) || 'object'
      : typeof value;
  const article = /^[aeiou]/i.test(kind) ? 'an' : 'a';
  let shown = maskUrl(inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 5, maxStringLength: 60 }));
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `${article} ${kind} \`${shown}\``;
}

// data.user.roles, data.items[2], data["odd key"]
function formatPath(path: ReadonlyArray<string | number>): string {
  return `data${path.map((key) => (typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)).join('')}`;
}

const CIRCULAR = '[Circular]';

// The plain object an Error is sent as, as pino's error serializer does: name, message, stack, the own enumerable
// fields (code, status...), cause and an AggregateError's errors. The values are converted in turn by toWire.
const maskText = (text: unknown): unknown => (typeof text === 'string' ? maskUrl(text) : text);

function errorFields(error: Error): Record<string, unknown> {
  // A URL's password in the message or stack (a driver's connection error) is masked, as in the library's own errors.
  const fields: Record<string, unknown> = { name: error.name, message: maskText(error.message), stack: maskText(error.stack) };
  for (const key of Object.keys(error)) fields[key] = (error as unknown as Record<string, unknown>)[key];
  if ('cause' in error && error.cause !== undefined) fields.cause = error.cause;
  const errors = (error as Partial<AggregateError>).errors;
  if (Array.isArray(errors)) fields.errors = errors;
  return fields;
}

// Converts a value for JSON.stringify, as JSON.stringify itself would read it (toJSON honoured, class instances by
// their own enumerable fields), except that an Error becomes its fields and a Map or Set is refused. Returns the
// value itself when nothing in it needs converting, so plain data is not copied. `ancestors` holds the objects on
// the path to this one: a cycle is refused, or, below an Error (whose fields the caller did not choose), sent as
// "[Circular]".
function toWire(value: unknown, key: string | number, path: Array<string | number>, ancestors: object[], inError: boolean): unknown {
  if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    // As in JSON.stringify, toJSON is called once: what it returns is read as it is (its children are converted).
    if (typeof toJSON === 'function') {
      value = toJSON.call(value, String(key));
      // JSON.stringify would call the toJSON of the result when it reads our copy: hide it (undefined is omitted).
      if (typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
        value = { ...value, toJSON: undefined };
      }
    }
  }
  if (typeof value === 'bigint') {
    throw new TypeError(`The event data cannot be serialised to JSON: ${formatPath(path)} is a BigInt, which JSON cannot hold; send it as a string or a number`);
  }
  return typeof value === 'object' && value !== null ? convertObject(value, path, ancestors, inError) : value;
}

function convertObject(value: object, path: Array<string | number>, ancestors: object[], inError: boolean): unknown {
  const prototype: unknown = Object.getPrototypeOf(value);
  let isError = false;
  if (prototype !== Object.prototype && prototype !== null && !Array.isArray(value)) {
    if (types.isMap(value) || types.isSet(value) || value instanceof Map || value instanceof Set) {
      const kind = types.isMap(value) || value instanceof Map ? 'Map' : 'Set';
      const instead = kind === 'Map' ? 'Object.fromEntries(map)' : '[...set]';
      throw new TypeError(`${formatPath(path)} is a ${kind}: JSON would send it as {}; convert it, e.g. with ${instead}`);
    }
    // Boxed primitives (new Number(1)): JSON.stringify unwraps them.
    if (value instanceof Number || value instanceof String || value instanceof Boolean) return value;
    isError = value instanceof Error || types.isNativeError(value);
  }
  if (ancestors.includes(value)) {
    if (inError) return CIRCULAR;
    throw new TypeError(`The event data cannot be serialised to JSON: ${formatPath(path)} is a circular reference to one of its parents`);
  }
  ancestors.push(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      path.push(i);
      const converted = toWire(item, i, path, ancestors, inError);
      path.pop();
      if (converted !== item) (copy ??= value.slice())[i] = converted;
    }
    ancestors.pop();
    return copy ?? value;
  }
  const source = isError ? errorFields(value as Error) : (value as Record<string, unknown>);
  let copy: Record<string, unknown> | undefined = isError ? source : undefined;
  for (const field of Object.keys(source)) {
    const item = source[field];
    path.push(field);
    const converted = toWire(item, field, path, ancestors, inError || isError);
    path.pop();
    if (converted !== item) (copy ??= { ...source })[field] = converted;
  }
  ancestors.pop();
  return copy ?? value;
}

// True when toWire would return `data` itself: no toJSON, and no value that is an object or a BigInt (most events
// are flat). Checked first because it allocates nothing; for...in also sees inherited keys, which only sends more
// data down the full path.
function isFlat(data: EventData): boolean {
  if (typeof data.toJSON === 'function') return false;
  for (const key in data) {
    const value = data[key];
    if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') return false;
  }
  return true;
}

/**
 * Serialises event data. The top level must be a plain object; nested values are read as JSON.stringify reads
 * them (`toJSON` honoured), except that an Error is sent as its name, message, stack, own fields, cause and
 * (AggregateError) errors, and a Map or Set is refused. Throws a TypeError naming the problem (and its path):
 * a class instance, array or primitive at the top level, a nested Map or Set, a cycle, a BigInt.
 */
export function encodeData(data: unknown): Buffer {
  if (!isPlainObject(data)) {
    throw new TypeError(`Expected the event data to be a plain object like { info: true }, got ${describeGiven(data)}`);
  }
  let wire: unknown = data;
  try {
    if (!isFlat(data)) wire = toWire(data, '', [], [], false);
  } catch (error) {
    // Ours name the path; a getter or toJSON that threw, or data nested too deep for the stack, are wrapped.
    if (error instanceof TypeError) throw error;
    throw new TypeError(`The event data cannot be serialised to JSON: ${describeError(error)}`, { cause: error });
  }
  if (!isPlainObject(wire)) {
    throw new TypeError(`Expected the event data to be a plain object like { info: true }, but its toJSON() returned ${describeGiven(wire)}`);
  }
  let json: string;
  try {
    json = JSON.stringify(wire);
  } catch (error) {
    throw new TypeError(`The event data cannot be serialised to JSON: ${(error as Error).message}`);
  }
  return Buffer.from(json, 'utf8');
}
