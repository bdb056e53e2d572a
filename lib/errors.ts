// Errors the library throws or rejects with. Every message says what went wrong and what was expected;
// none carries a password: every URL that reaches a message goes through maskUrl() first.

/** The codes of {@link EventBusLoggerError}, so callers can branch without parsing messages. */
export type EventBusLoggerErrorCode =
  | 'CONFIG'
  | 'CONNECT'
  | 'PUBLISH_TIMEOUT'
  | 'BUFFER_FULL'
  | 'STOPPED'
  | 'NACKED'
  | 'UNROUTABLE'
  | 'NOT_STARTED'
  | 'LISTENER';

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
