// The TLS settings, read without a broker: bad ones are CONFIG errors naming what was wrong.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { EventBusLogger, EventBusLoggerError } from '../../lib/index.js';
import { rejection, shippedConfig } from '../helpers.js';

describe('TLS settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ebl-tls-config-'));
  const pem = join(dir, 'any.pem');
  writeFileSync(pem, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
  after(() => rmSync(dir, { recursive: true, force: true }));

  const configError = async (options: ConstructorParameters<typeof EventBusLogger>[0]): Promise<string> => {
    const error = await rejection<EventBusLoggerError>(new EventBusLogger(options).start());
    expect(error.code).to.equal('CONFIG');
    return error.message;
  };

  it('names a file that cannot be read, and where it was given', async () => {
    expect(await configError({ url: 'amqps://u:p@localhost', tls: { caFile: join(dir, 'missing.pem') } })).to.match(/^Cannot read tls\.caFile \S+missing\.pem: ENOENT/);
    const config = await shippedConfig();
    config.eventBusLogger.tls = { certFile: join(dir, 'gone.pem'), keyFile: pem };
    expect(await configError({ url: 'amqps://u:p@localhost', config })).to.match(/^Cannot read eventBusLogger\.tls\.certFile \S+gone\.pem/);
  });

  it('refuses an unknown key, a key without its certificate, and certificates with a plain amqp:// URL', async () => {
    expect(await configError({ url: 'amqps://u:p@localhost', tls: { ca: pem } as never })).to.contain('Unknown key `ca` in `tls`; expected caFile, certFile or keyFile');
    expect(await configError({ url: 'amqps://u:p@localhost', tls: { keyFile: pem } })).to.contain('needs both certFile and keyFile');
    const message = await configError({ url: 'amqp://u:s3cret@localhost', tls: { caFile: pem } });
    expect(message).to.contain('amqp://u:***@localhost is a plain amqp:// URL').and.not.contain('s3cret');
  });
});
