// lib/options.ts: the options resolved against DEFAULTS, and a clear error for each bad one.
import { expect } from 'chai';
import { DEFAULTS, resolveOptions } from '../../lib/options.js';

describe('options (lib/options.ts): resolveOptions', () => {
  it('fills in the documented defaults', () => {
    const resolved = resolveOptions({});
    expect(resolved).to.deep.include({
      publishTimeout: DEFAULTS.publishTimeout,
      startTimeout: DEFAULTS.startTimeout,
      waitForBroker: false,
      stopTimeout: DEFAULTS.stopTimeout,
      prefetch: DEFAULTS.prefetch,
      maxMessageBytes: DEFAULTS.maxMessageBytes,
      mandatory: false,
      bufferMaxEvents: DEFAULTS.bufferMaxEvents,
      bufferMaxBytes: DEFAULTS.bufferMaxBytes,
      resumable: undefined,
    });
    expect(resolved.appId).to.be.a('string').and.not.equal('');
  });

  const bad: Array<[Record<string, unknown>, string]> = [
    [{ prefetch: 0 }, 'Expected `prefetch` to be an integer from 1 and up, got `0` (number)'],
    [{ publishTimeout: '5s' }, 'Expected `publishTimeout` to be an integer from 1 and up, got `5s` (string)'],
    [{ waitForBroker: 'yes' }, 'Expected `waitForBroker` to be a boolean, got `yes` (string)'],
    [{ bufferMaxEvents: -1 }, 'Expected `bufferMaxEvents` to be an integer from 0 and up, got `-1` (number)'],
    [{ resumable: { grace: 0 } }, 'Expected `grace` to be an integer from 1 and up, got `0` (number)'],
    [{ colour: true }, 'Unknown option `colour`; expected one of:'],
  ];
  for (const [options, message] of bad) {
    it(`rejects ${JSON.stringify(options)} naming the key and the expectation`, () => {
      expect(() => resolveOptions(options as never)).to.throw(message);
    });
  }
});
