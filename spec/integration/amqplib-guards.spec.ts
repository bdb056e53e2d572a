// amqplib on a real connection: lib/bus/amqplib-guards.ts a channel opened on a connection that is closing hands
// the error to its callback instead of throwing it (Rascal opens channels from its own queue, where a throw was an
// uncaught exception), and answers that callback once.
import { expect } from 'chai';
import amqp from 'amqplib/callback_api';
import { rpcWithoutThrowing } from '../../lib/bus/amqplib-guards.js';
import { coalesceWrites } from '../../lib/coalesce-writes.js';
import { AMQP_URL } from '../helpers.js';

type Model = { createConfirmChannel(callback: (error: Error | null, channel?: object) => void): object; close(callback?: (error: Error | null) => void): void };

const connect = (): Promise<Model> => new Promise((resolve, reject) => amqp.connect(AMQP_URL, (error: Error | null, connection: unknown) => (error ? reject(error) : resolve(connection as Model))));
const channelOf = (model: Model): Promise<object> =>
  new Promise((resolve, reject) => model.createConfirmChannel((error, channel) => (error || !channel ? reject(error) : resolve(channel))));

describe('amqplib guards: a channel opened as its connection closes', () => {
  it('hands the error to the callback, once, instead of throwing it', async () => {
    const model = await connect();
    rpcWithoutThrowing(await channelOf(model));
    const closed = new Promise<void>((resolve) => model.close(() => resolve()));
    const answers: Array<Error | null> = [];
    expect(() => model.createConfirmChannel((error) => answers.push(error))).not.to.throw();
    await closed;
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers).to.have.length(1);
    expect(answers[0]?.message).to.match(/Connection clos/);
  });
});

describe("amqplib's private shape the library relies on (a canary: a minor release that renames it fails here, not silently)", () => {
  it('a real confirm channel has the frame multiplexer coalesceWrites wraps (else publishes go out one write each, unnoticed)', async () => {
    const model = await connect();
    try {
      const channel = await channelOf(model);
      expect(coalesceWrites(channel), 'coalesceWrites found no connection.muxer with _readIncoming and out.cork/uncork').to.not.equal(undefined);
    } finally {
      await new Promise<void>((resolve) => model.close(() => resolve()));
    }
  });
});
