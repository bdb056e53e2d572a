import { expect } from 'chai';
import { Outgoing } from '../../lib/outgoing.js';

// A messageId without the millisecond of its publish (`/1230.5` -> `/0.5`), which lib/wire-format.ts's specs check.
const untimed = (messageId: string): string => messageId.replace(/\/\d{3}(\d+\.\d+)$/, '/$1');

describe('Outgoing (a publish made into a message)', () => {
  const settings = { appId: 'worker', maxMessageBytes: 64, mandatory: false };

  it('numbers events from 1 within each level, and tags each level by its index among the levels', () => {
    const outgoing = new Outgoing(['info', 'critical'], settings);
    const ids = [
      outgoing.message('info', { n: 1 }),
      outgoing.message('info', { n: 2 }),
      outgoing.message('critical', { n: 3 }),
      outgoing.message('info', { n: 4 }),
    ].map((message) => untimed(message.properties.messageId));
    expect(ids).to.deep.equal([`${outgoing.publisherId}/0.1`, `${outgoing.publisherId}/0.2`, `${outgoing.publisherId}/1.1`, `${outgoing.publisherId}/0.3`]);
  });

  it('sends the JSON of the data with the appId, and mandatory only when set', () => {
    const { body, properties } = new Outgoing(['info'], settings).message('info', { disk: 'full' });
    expect(body.toString()).to.equal('{"disk":"full"}');
    expect(properties).to.include({ contentType: 'application/json', appId: 'worker' });
    expect(properties).not.to.have.property('mandatory');
    expect(new Outgoing(['info'], { ...settings, mandatory: true }).message('info', {}).properties.mandatory).to.equal(true);
  });

  it('refuses an unknown level, data that is not a plain object and data over maxMessageBytes, and spends no number on them', () => {
    const outgoing = new Outgoing(['info', 'critical'], settings);
    expect(() => outgoing.message('debug', {})).to.throw(TypeError, 'Unknown level "debug"; expected one of the configured levels: info, critical');
    expect(() => outgoing.message('info', [1] as unknown as Record<string, unknown>)).to.throw(TypeError, /^Expected the event data to be a plain object/);
    expect(() => outgoing.message('info', { big: 'x'.repeat(64) })).to.throw(RangeError, /^Event data is 74 bytes of JSON, over maxMessageBytes \(64\)$/);
    expect(untimed(outgoing.message('info', {}).properties.messageId)).to.equal(`${outgoing.publisherId}/0.1`);
  });

  it('gives each instance its own publisher id', () => {
    expect(new Outgoing(['info'], settings).publisherId).not.to.equal(new Outgoing(['info'], settings).publisherId);
  });
});
