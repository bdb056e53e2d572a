import { EventEmitter, once } from 'node:events';
import { expect } from 'chai';
import sinon from 'sinon';
import { BusConnection } from '../../lib/bus/connection.js';
import type { AmqpChannel, RascalBroker, RascalVhost } from '../../lib/rascal.js';

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Rascal's broker as BusConnection sees it: an emitter of 'error', 'disconnect', 'vhost_initialised', 'blocked'
// and 'unblocked', with a config and shutdown().
function connected() {
  const broker = Object.assign(new EventEmitter(), {
    config: { vhosts: { '/': { exchanges: { logs: { fullyQualifiedName: 'ns:logs' } } } } },
    shutdown: sinon.stub().resolves(),
  });
  const channel = { id: 'channel' } as unknown as AmqpChannel;
  const vhost = {
    name: '/',
    getChannel: sinon.stub().callsFake((callback: (error: Error | null, channel: AmqpChannel) => void) => callback(null, channel)),
    getConfirmChannel: sinon.stub().callsFake((callback: (error: Error | null, channel: undefined) => void) => callback(new Error('the connection is closing'), undefined)),
    getConnectionDetails: () => ({ vhost: '/', connectionUrl: 'amqp://guest:***@broker:5672' }),
  };
  const connection = new BusConnection(broker as unknown as RascalBroker, vhost as unknown as RascalVhost);
  const events: Array<[string, unknown]> = [];
  for (const event of ['down', 'up', 'blocked', 'unblocked'] as const) connection.on(event, (payload?: unknown) => events.push([event, payload]));
  return { broker, vhost, channel, connection, events };
}

describe('BusConnection', () => {
  afterEach(() => sinon.restore());

  describe('down', () => {
    it("gives one 'down' whose reason is the message of the error that follows the disconnect, masked", async () => {
      const { broker, connection, events } = connected();
      broker.emit('disconnect');
      broker.emit('error', new Error('Connection to amqp://guest:secret@broker:5672 closed: ECONNRESET'));
      expect(connection.isUp).to.equal(false);
      await flush();
      expect(events).to.deep.equal([['down', { reason: 'Connection to amqp://guest:***@broker:5672 closed: ECONNRESET' }]]);
      expect(connection.lastError).to.equal('Connection to amqp://guest:***@broker:5672 closed: ECONNRESET');
    });

    it("says 'connection closed' when no error says why", async () => {
      const { broker, connection } = connected();
      broker.emit('disconnect');
      const [{ reason }] = await once(connection, 'down');
      expect(reason).to.equal('connection closed');
    });

    it('does not take an error from before the loss as its reason', async () => {
      const { broker, events } = connected();
      broker.emit('error', new Error('channel error: PRECONDITION_FAILED'));
      await flush();
      broker.emit('disconnect');
      await flush();
      expect(events).to.deep.equal([['down', { reason: 'connection closed' }]]);
    });

    it("reports a second outage with no error of its own as 'connection closed', not the previous outage's error", async () => {
      const { broker, events } = connected();
      broker.emit('disconnect');
      broker.emit('error', new Error('ECONNRESET'));
      await flush();
      broker.emit('vhost_initialised');
      broker.emit('disconnect');
      await flush();
      expect(events).to.deep.equal([['down', { reason: 'ECONNRESET' }], ['up', undefined], ['down', { reason: 'connection closed' }]]);
    });

    it("emits one 'down' per outage, however many reconnection attempts fail", async () => {
      const { broker, events } = connected();
      broker.emit('disconnect');
      broker.emit('error', new Error('ECONNRESET'));
      await flush();
      for (let attempt = 0; attempt < 3; attempt++) {
        broker.emit('disconnect');
        broker.emit('error', new Error('ECONNREFUSED'));
        await flush();
      }
      expect(events).to.deep.equal([['down', { reason: 'ECONNRESET' }]]);
    });
  });

  describe('up', () => {
    it("emits 'up' on 'vhost_initialised' after a disconnect, and is up again", async () => {
      const { broker, connection, events } = connected();
      broker.emit('disconnect');
      await flush();
      expect(connection.isUp).to.equal(false);
      broker.emit('vhost_initialised');
      expect(connection.isUp).to.equal(true);
      expect(events).to.deep.equal([['down', { reason: 'connection closed' }], ['up', undefined]]);
    });

    it("emits nothing on 'vhost_initialised' without an outage (the first connect)", () => {
      const { broker, connection, events } = connected();
      broker.emit('vhost_initialised');
      expect(events).to.deep.equal([]);
      expect(connection.isUp).to.equal(true);
    });
  });

  describe('blocked and unblocked', () => {
    it("emits 'blocked' with the broker's reason and 'unblocked' when it lifts", () => {
      const { broker, events } = connected();
      broker.emit('blocked', 'low on memory');
      broker.emit('unblocked');
      expect(events).to.deep.equal([['blocked', { reason: 'low on memory' }], ['unblocked', undefined]]);
    });

    it("says 'resource alarm' when the broker gives no reason", () => {
      const { broker, events } = connected();
      broker.emit('blocked', '');
      expect(events).to.deep.equal([['blocked', { reason: 'resource alarm' }]]);
    });

    it("emits no 'unblocked' when nothing was blocked", () => {
      const { broker, events } = connected();
      broker.emit('unblocked');
      expect(events).to.deep.equal([]);
    });

    it('forgets a block when the connection is lost: it belonged to that connection', async () => {
      const { broker, events } = connected();
      broker.emit('blocked', 'low on disk');
      broker.emit('disconnect');
      broker.emit('unblocked');
      await flush();
      expect(events.map(([event]) => event)).to.deep.equal(['blocked', 'down']);
    });
  });

  describe('close()', () => {
    it('shuts the broker down once, however often it is called, and ignores the broker from then on', async () => {
      const { broker, connection, events } = connected();
      await connection.close();
      await connection.close();
      expect(broker.shutdown.callCount).to.equal(1);
      expect(connection.isUp).to.equal(false);
      broker.emit('disconnect');
      broker.emit('blocked', 'low on memory');
      await flush();
      expect(events).to.deep.equal([]);
    });

    // Rascal reads its connection when its disconnection handler's setImmediate runs, and its disconnect sets that
    // connection to undefined in the close's callback: called at once, the callback made the handler read undefined
    // (TypeError '_rascal_id', an uncaught exception: check:faults --cluster, a listener stopped as its node died).
    it("gives a close that amqplib refuses its error after the immediates already queued (Rascal's disconnection handler)", async () => {
      class RefusingConnection extends EventEmitter {
        close(): void {
          throw new Error('Connection closing');
        }
      }
      const { vhost, connection } = connected();
      const amqpConnection = new RefusingConnection();
      vhost.getChannel.callsFake((callback: (error: Error | null, channel: AmqpChannel) => void) => callback(null, { connection: amqpConnection } as unknown as AmqpChannel));
      await connection.channel();
      const order: string[] = [];
      setImmediate(() => order.push("Rascal's disconnection handler"));
      (amqpConnection.close as (callback: (error: Error | null) => void) => void)((error) => order.push(`close callback: ${error?.message}`));
      order.push('close returned');
      await flush();
      await flush();
      expect(order).to.deep.equal(['close returned', "Rascal's disconnection handler", 'close callback: Connection closing']);
      expect(() => amqpConnection.close()).to.throw('Connection closing');
    });

    it('resolves even when the shutdown fails', async () => {
      const { broker, connection } = connected();
      broker.shutdown.rejects(new Error('already closed'));
      await connection.close();
      expect(broker.shutdown.callCount).to.equal(1);
    });
  });

  it("opens channels on Rascal's vhost, and rejects with its error", async () => {
    const { connection, channel, vhost } = connected();
    expect(await connection.channel()).to.equal(channel);
    expect(vhost.getChannel.calledOnce).to.equal(true);
    let error: unknown;
    await connection.confirmChannel().catch((e: unknown) => (error = e));
    expect(error).to.be.an('error').with.property('message', 'the connection is closing');
  });

  it("names the URL in use (masked) and the exchange's name on the broker", () => {
    const { connection } = connected();
    expect(connection.url).to.equal('amqp://guest:***@broker:5672');
    expect(connection.exchangeName('logs')).to.equal('ns:logs');
    expect(connection.exchangeName('other')).to.equal('other');
  });
});
