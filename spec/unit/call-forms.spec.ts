// The call forms of the publish methods, as pino takes them, and a method for every configured level: what each
// call sends, on a stubbed broker. (spec/types/call-forms.ts holds what compiles and what does not.)
import { expect } from 'chai';
import { EventBusLogger, EventBusLoggerError } from '../../lib/index.js';
import { loadTopology } from '../../lib/topology.js';
import busConfig from '../../examples/rascal-with-warning.json' with { type: 'json' };
import { FakeBus, opener } from './fake-bus.js';
import { rejection } from '../helpers.js';

// A started logger on a stubbed broker that confirms every publish, and what each publish sent.
async function started(): Promise<{ logger: EventBusLogger<'info' | 'critical' | 'warning'>; sent: () => Array<{ level: string; data: unknown }> }> {
  const bus = new FakeBus();
  const logger = new EventBusLogger<'info' | 'critical' | 'warning'>({ config: busConfig, name: 'unit_bus' }, opener(bus));
  await logger.start();
  bus.confirm.publish.callsFake((_exchange, _key, _body, _options, confirm) => (confirm(null), true));
  const sent = (): Array<{ level: string; data: unknown }> =>
    bus.confirm.publish.getCalls().map((call) => ({ level: call.args[1] as string, data: JSON.parse((call.args[2] as Buffer).toString()) as unknown }));
  return { logger, sent };
}

describe('call forms (stubbed broker)', () => {
  it('a string alone is the message: { msg }', async () => {
    const { logger, sent } = await started();
    await logger.info('server started');
    expect(sent()).to.deep.equal([{ level: 'info', data: { msg: 'server started' } }]);
  });

  it('(data, message) sends the data with the message as msg, which wins over a msg in the data', async () => {
    const { logger, sent } = await started();
    const data = { user: 'ann' };
    await logger.info(data, 'signed in');
    await logger.critical({ msg: 'old', user: 'bob' }, 'new');
    expect(sent()).to.deep.equal([
      { level: 'info', data: { user: 'ann', msg: 'signed in' } },
      { level: 'critical', data: { msg: 'new', user: 'bob' } },
    ]);
    expect(data, 'the caller\'s object is not modified').to.deep.equal({ user: 'ann' });
  });

  it('an Error is sent as { err, msg }: err serialised, msg the Error\'s message or the one given', async () => {
    const { logger, sent } = await started();
    const err = Object.assign(new TypeError('card declined'), { code: 'E_DECLINED' });
    await logger.critical(err);
    await logger.critical(err, 'payment failed');
    const [alone, withMessage] = sent();
    expect(alone?.data).to.deep.include({ msg: 'card declined' });
    expect((alone?.data as { err: unknown }).err).to.deep.include({ name: 'TypeError', message: 'card declined', code: 'E_DECLINED' });
    expect((alone?.data as { err: { stack: string } }).err.stack).to.match(/^TypeError: card declined\n\s+at /);
    expect(withMessage?.data).to.deep.include({ msg: 'payment failed' });
    expect((withMessage?.data as { err: unknown }).err).to.deep.include({ name: 'TypeError', message: 'card declined' });
  });

  it('plain data alone is sent as it is, as before', async () => {
    const { logger, sent } = await started();
    await logger.info({ info: true });
    await logger.info({ info: true }, undefined);
    expect(sent()).to.deep.equal([{ level: 'info', data: { info: true } }, { level: 'info', data: { info: true } }]);
  });

  it('publish(level, ...) takes the same forms', async () => {
    const { logger, sent } = await started();
    await logger.publish('warning', { disk: 91 }, 'disk almost full');
    await logger.publish('info', 'up');
    expect(sent()).to.deep.equal([
      { level: 'warning', data: { disk: 91, msg: 'disk almost full' } },
      { level: 'info', data: { msg: 'up' } },
    ]);
  });

  const refused: Array<[string, (logger: EventBusLogger<'info' | 'critical' | 'warning'>) => Promise<void>, RegExp]> = [
    ['a number', (logger) => (logger.info as (...args: unknown[]) => Promise<void>)(42), /^Expected the event data to be a plain object like \{ info: true \}, got a number `42`/],
    ['printf-style arguments', (logger) => (logger.info as (...args: unknown[]) => Promise<void>)('disk %s', 'full'), /^Expected \(data\), \(data, message\), \(message\) or \(error, message\?\).*, got a string `'disk %s'` before the message \(a message takes no arguments/],
    ['a message that is not a string', (logger) => (logger.info as (...args: unknown[]) => Promise<void>)({ user: 'ann' }, 42), /^Expected \(data\), .*, got a number `42` as the message$/],
    ['three arguments', (logger) => (logger.critical as (...args: unknown[]) => Promise<void>)({}, 'a', 'b'), /^Expected \(data\), .*, got 3 arguments$/],
    ['an array with a message', (logger) => (logger.critical as (...args: unknown[]) => Promise<void>)([1], 'a'), /^Expected \(data\), .*, got an array `\[ 1 \]` before the message$/],
  ];
  for (const [what, call, message] of refused) {
    it(`refuses ${what} with a TypeError that names the forms, and sends nothing`, async () => {
      const { logger, sent } = await started();
      const error = await rejection(call(logger));
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.match(message);
      expect(sent()).to.deep.equal([]);
    });
  }
});

describe('a method for every configured level (stubbed broker)', () => {
  it('gives each configured level its method, which takes every call form', async () => {
    const { logger, sent } = await started();
    const typed = logger as typeof logger & { warning: (...args: unknown[]) => Promise<void> };
    expect(typed.warning).to.be.a('function');
    await typed.warning({ disk: 91 });
    await typed.warning('disk almost full');
    await typed.warning(new Error('disk'), 'disk almost full');
    expect(sent().map(({ level }) => level)).to.deep.equal(['warning', 'warning', 'warning']);
    expect(sent()[1]?.data).to.deep.equal({ msg: 'disk almost full' });
    expect(Object.keys(logger), 'not enumerable').to.not.include('warning');
  });

  it('a level method refuses to publish before start and after stop, as publish() does', async () => {
    const { logger } = await started();
    const warning = (logger as unknown as { warning: (data: object) => Promise<void> }).warning;
    await logger.stop();
    const error = await rejection(warning.call(logger, { disk: 91 }));
    expect(error).to.be.instanceOf(EventBusLoggerError).and.to.have.property('code', 'STOPPED');
  });

  it('leaves a subclass\'s own member of a level\'s name as it is', async () => {
    class Disks extends EventBusLogger<'info' | 'critical' | 'warning'> {
      warning(percent: number): Promise<void> {
        return this.publish('warning', { disk: percent }, 'disk almost full');
      }
    }
    const bus = new FakeBus();
    const logger = new Disks({ config: busConfig, name: 'unit_bus' }, opener(bus));
    await logger.start();
    bus.confirm.publish.callsFake((_exchange, _key, _body, _options, confirm) => (confirm(null), true));
    await logger.warning(91);
    expect(JSON.parse((bus.confirm.publish.firstCall.args[2] as Buffer).toString())).to.deep.equal({ disk: 91, msg: 'disk almost full' });
  });

  // Every name a logger answers to at run time: its class's members (protected ones too), its emitter's, Object's.
  const members = new Set<string>();
  for (let object: object | null = new EventBusLogger(); object !== null; object = Object.getPrototypeOf(object) as object | null) {
    for (const name of Object.getOwnPropertyNames(object)) if (name !== 'info' && name !== 'critical') members.add(name);
  }
  it('the config check refuses a level named like any member of the logger', async () => {
    expect(members).to.include.members(['stop', 'publish', 'handle', 'dispatch', 'on', 'emit', '_events', 'toString', 'constructor']);
    for (const member of members) {
      const config = structuredClone(busConfig) as { vhosts: { '/': { bindings: Record<string, unknown> } } };
      // An own key even for __proto__, as JSON.parse makes it.
      Object.defineProperty(config.vhosts['/'].bindings, member, { value: { source: 'logger_metaclass', destination: 'listener', bindingKey: member }, enumerable: true });
      const error = await rejection(loadTopology({ config: config as never }));
      // removeListener and newListener are refused as the emitter's own events, before this check.
      expect(error.message, member).to.match(new RegExp(`level "${member}" is (named like a member of the logger|reserved for the logger's own events)`));
    }
  });
});
