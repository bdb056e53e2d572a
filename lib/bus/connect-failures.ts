// Why a connect failed, in words that name the URL (password masked) and the cause, and whether another try can
// help: a refused login, vhost or permission, or a certificate that fails verification, fails every try alike.
import { EventBusLoggerError, describeError } from '../errors.js';
import { tlsFailure } from '../tls.js';

// Rascal words a failed connect "Failed to connect to: <url>. Original message was: <amqplib's message>".
export const RASCAL_CONNECT_FAILURE = /^Failed to connect to: (\S+)\. Original message was: /;
// RabbitMQ refuses a vhost (missing, or no permission on it) by closing the connection: 530 NOT_ALLOWED.
export const VHOST_REFUSED = /Expected ConnectionOpenOk; got <ConnectionClose/;

/**
 * Why a connect failed, for a message that names the URLs already: Rascal's repetition of the URL goes (kept, without
 * its query, when there are several URLs, to say which one), and a vhost the broker refused is named as such.
 */
export function connectFailure(error: unknown, urlCount: number): string {
  const reason = describeError(error);
  const match = RASCAL_CONNECT_FAILURE.exec(reason);
  if (!match) return reason;
  const url = (match[1] as string).replace(/\?.*$/, '');
  let cause = reason.slice(match[0].length);
  // RabbitMQ answers connection.open for a missing vhost, or one the user has no permission on, by closing the
  // connection: amqplib reports only the unexpected frame.
  if (/^Expected ConnectionOpenOk; got <ConnectionClose/.test(cause)) {
    let vhost = '/';
    let user = '';
    try {
      const parsed = new URL(url);
      vhost = parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : '/';
      user = decodeURIComponent(parsed.username);
    } catch {
      // keep the defaults
    }
    cause = `the vhost "${vhost}" does not exist, or ${user ? `user "${user}"` : 'this user'} has no permission on it (the broker refused to open it)`;
  }
  cause = notAmqp(cause) ?? cause;
  return urlCount > 1 ? `${url}: ${cause}` : cause;
}

// amqplib reads a server's first bytes as an AMQP frame header: type (1 byte), channel (2), size (4). A server that
// speaks another protocol fails the size check with its 4th to 7th bytes as the size: "P/1." of "HTTP/1.1" is
// 1345270062. Say what the server is instead.
function notAmqp(cause: string): string | undefined {
  const frame = /Frame size (\d+) exceeds maxFrameSize/.exec(cause);
  if (!frame) return undefined;
  const size = Number(frame[1]);
  const bytes = Buffer.alloc(4);
  if (Number.isSafeInteger(size) && size <= 0xffffffff) bytes.writeUInt32BE(size);
  const http = bytes.toString('latin1') === 'P/1.';
  return `the server at this address does not speak AMQP: it answered ${http ? 'as an HTTP server does' : 'with bytes that are not an AMQP frame'} (is the port the management UI's, 15672, or a web server's? RabbitMQ takes AMQP on 5672, and on 5671 with TLS)`;
}

// Connect failures that every further try would meet alike, so trying again only hides them.
const permanentFailures = new WeakSet<Error>();

/**
 * True for a connect failure that trying again cannot cure: `CONFIG`, `ACCESS` (a refused login, vhost or
 * permission), and a TLS certificate that fails verification (`CONNECT`, marked so).
 */
export function isPermanent(error: unknown): boolean {
  if (!(error instanceof EventBusLoggerError)) return false;
  return error.code === 'CONFIG' || error.code === 'ACCESS' || permanentFailures.has(error);
}

// RabbitMQ refuses a login (an unknown user, a wrong password, guest from another host) with a 403 in the handshake.
const LOGIN_REFUSED = /ACCESS_REFUSED - Login was refused|Handshake terminated by server: 403/i;

/** The error of a connect failure that no further try would cure (see {@link isPermanent}); else undefined. */
export function permanentConnectError(error: unknown, loggableUrls: string[]): EventBusLoggerError | undefined {
  const message = describeError(error);
  const reason = connectFailure(error, loggableUrls.length);
  const where = loggableUrls.join(', ');
  if (VHOST_REFUSED.test(message)) return new EventBusLoggerError('ACCESS', `Cannot open the event bus at ${where}: ${reason}`);
  if (LOGIN_REFUSED.test(message)) {
    return new EventBusLoggerError('ACCESS', `Cannot open the event bus at ${where}: the broker refused the login (a wrong user name or password, or a user that may not connect from this host, as guest from another host) (${reason.trim()})`);
  }
  // A certificate that fails verification fails the same way on every try: say which, at once.
  const tls = tlsFailure(reason);
  if (tls) {
    const failure = new EventBusLoggerError('CONNECT', `Cannot connect to the event bus at ${where}: ${tls} (${reason.trim()})`);
    permanentFailures.add(failure);
    return failure;
  }
  return undefined;
}
