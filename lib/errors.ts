// Errors the library throws or rejects with. Every message says what went wrong and what was expected;
// none carries a password: every URL that reaches a message goes through maskUrl() first.

/** The codes of {@link EventBusLoggerError}, so callers can branch without parsing messages. */
export type EventBusLoggerErrorCode =
  | 'CONFIG'
  | 'CONNECT'
  | 'PUBLISH_TIMEOUT'
  | 'BUFFER_FULL'
  | 'BUFFER_TIMEOUT'
  | 'STOPPED'
  | 'NACKED'
  | 'UNROUTABLE'
  | 'NOT_STARTED'
  | 'LISTENER'
  | 'ACCESS'
  | 'OUT_OF_RANGE';

/**
 * How the message ends that a close resolves with when the broker did not answer it in time and the connection was
 * dropped (stop() keeps it in `stats().lastError`; the command line says it).
 */
export const CONNECTION_DROPPED = 'the connection was dropped';

/** An error of the event bus logger; `code` tells which kind. */
export class EventBusLoggerError extends Error {
  /** What kind of failure this is. */
  readonly code: EventBusLoggerErrorCode;

  constructor(code: EventBusLoggerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventBusLoggerError';
    this.code = code;
  }
}

const CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^@/\s]*)@/gi;

/** Replaces the password of every URL in `text` with `***`: `amqp://guest:***@host`. */
export function maskUrl(text: string): string {
  return text.replace(CREDENTIALS, '$1$2:***@');
}

/** The message of any thrown value, with credentials masked. */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return maskUrl(message);
}

/** What a value is, in a word: `null`, `array`, or its `typeof`. */
export function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Describes a value for an error message: `` `0` (number) ``, as p-queue does. */
export function describeValue(value: unknown): string {
  let shown: string;
  try {
    shown = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `\`${shown}\` (${kindOf(value)})`;
}

export function configError(message: string): EventBusLoggerError {
  return new EventBusLoggerError('CONFIG', message);
}

// The AMQP methods a 403 can refuse, by amqplib's name and by class/method id, with what each needs.
const METHOD_NAMES: Record<string, string> = {
  '40/10': 'ExchangeDeclare',
  '40/20': 'ExchangeDelete',
  '50/10': 'QueueDeclare',
  '50/20': 'QueueBind',
  '50/40': 'QueueDelete',
  '50/50': 'QueueUnbind',
  '60/20': 'BasicConsume',
  '60/40': 'BasicPublish',
};
const OPERATIONS: Record<string, string> = {
  ExchangeDeclare: 'declaring the exchange (needs the configure permission on it)',
  ExchangeDelete: 'deleting the exchange (needs the configure permission on it)',
  QueueDeclare: 'declaring the queue (needs the configure permission on its name)',
  QueueBind: 'binding the queue to the exchange (needs read on the exchange and write on the queue)',
  QueueDelete: 'deleting the queue (needs the configure permission on it)',
  QueueUnbind: 'unbinding the queue (needs read on the exchange and write on the queue)',
  BasicConsume: 'consuming from the queue (needs read on it)',
  BasicPublish: 'publishing to the exchange (needs write on it)',
};

/**
 * The `ACCESS` error for a refusal by the broker's access control (a 403 on a resource), naming the operation and
 * the resource refused; undefined for any other error. A refused login (wrong user or password) is not one: that
 * stays `CONNECT`.
 */
export function accessError(error: unknown): EventBusLoggerError | undefined {
  if (error instanceof EventBusLoggerError) return error.code === 'ACCESS' ? error : undefined;
  const message = describeError(error);
  const refused = /ACCESS_REFUSED - ([^"]*)/.exec(message);
  if (!refused || /login was refused|Handshake terminated/i.test(message)) return undefined;
  const ids = error as { classId?: unknown; methodId?: unknown };
  const method = /Operation failed: (\w+);/.exec(message)?.[1] ?? METHOD_NAMES[`${String(ids.classId)}/${String(ids.methodId)}`];
  const operation = (method && OPERATIONS[method]) ?? 'an operation on the broker';
  return new EventBusLoggerError('ACCESS', `Access refused by the broker: ${operation}: ${refused[1]?.trim()}`, { cause: error });
}

/** The `ACCESS` error of a logger whose user may not declare the bus's exchange, when it does not exist either. */
export function missingExchangeError(exchange: string, vhost: string): EventBusLoggerError {
  return new EventBusLoggerError(
    'ACCESS',
    `The exchange "${exchange}" does not exist in vhost "${vhost}", and this user may not declare it (declaring it was refused: no configure permission on it); start a process allowed to declare it first, or declare it once by hand (rabbitmqctl, a definitions file)`,
  );
}
