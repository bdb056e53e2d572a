// What a failed connect says, and whether another try can help (lib/bus/connect-failures.ts): the failures that
// reject start() at once even in the default (background) mode.
import { expect } from 'chai';
import { isPermanent, permanentConnectError } from '../../lib/bus/connect-failures.js';
import type { OpenBus } from '../../lib/bus/connection.js';
import { EventBusLogger, EventBusLoggerError } from '../../lib/index.js';
import { rejection } from '../helpers.js';

const URLS = ['amqps://app:***@bus.example.com:5671'];
// Rascal's words for a failed connect, around amqplib's (or Node's TLS) message.
const rascal = (cause: string): Error => new Error(`Failed to connect to: amqps://app:***@bus.example.com:5671. Original message was: ${cause}`);

describe('connect failures', () => {
  const cases: Array<[string, string, string | undefined, RegExp | undefined]> = [
    ['a refused login', 'Handshake terminated by server: 403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."', 'ACCESS', /the broker refused the login/],
    ['a vhost refused', 'Expected ConnectionOpenOk; got <ConnectionClose channel:0>', 'ACCESS', /the vhost "\/" does not exist, or user "app" has no permission on it/],
    ['an expired certificate', 'certificate has expired', 'CONNECT', /TLS: the broker's certificate has expired/],
    ['a certificate of another CA', 'self-signed certificate in certificate chain', 'CONNECT', /TLS: the broker's certificate is not signed by a trusted CA/],
    ['a broker not up yet', 'connect ECONNREFUSED 10.0.0.1:5671', undefined, undefined],
    ['a reset connection', 'read ECONNRESET', undefined, undefined],
  ];
  for (const [what, cause, code, words] of cases) {
    it(`${code ? 'gives up at once on' : 'tries again after'} ${what}`, () => {
      const error = permanentConnectError(rascal(cause), URLS);
      expect(error?.code).to.equal(code);
      if (words) expect(error?.message).to.match(words);
      expect(isPermanent(error)).to.equal(code !== undefined);
    });
  }

  it('calls an ordinary CONNECT error (the broker unreachable) not permanent', () => {
    expect(isPermanent(new EventBusLoggerError('CONNECT', 'Cannot connect to the event bus at x: connect ECONNREFUSED'))).to.equal(false);
    expect(isPermanent(new Error('ECONNREFUSED'))).to.equal(false);
  });

  it('rejects start() at once with CONNECT on a TLS verification failure, also in the default mode', async () => {
    let tries = 0;
    const open = (async () => {
      tries++;
      throw permanentConnectError(rascal('certificate has expired'), URLS);
    }) as OpenBus;
    const error = await rejection<EventBusLoggerError>(new EventBusLogger({ name: 'unit_bus' }, open).start());
    expect(error.code).to.equal('CONNECT');
    expect(error.message).to.contain("TLS: the broker's certificate has expired");
    expect(tries).to.equal(1);
  });
});
