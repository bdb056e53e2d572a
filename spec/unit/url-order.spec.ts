// The order a logger tries its URLs in: as given by default (the first preferred), or a per-process random order
// (Rascal's 'random' connection strategy) with `urlOrder: 'random'`.
import { expect } from 'chai';
import { loadTopology } from '../../lib/topology.js';
import { resolveOptions } from '../../lib/options.js';
import { rejection, shippedConfig } from '../helpers.js';

const URLS = ['amqp://g:g@one:5672', 'amqp://g:g@two:5672', 'amqp://g:g@three:5672'];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const strategy = (topology: { rascalConfig: any }): unknown => topology.rascalConfig.vhosts['/'].connectionStrategy;

describe('urlOrder', () => {
  it("keeps the given order by default, also with a config that names no strategy (Rascal's own default is 'random')", async () => {
    expect(strategy(await loadTopology({ url: URLS }))).to.equal('fixed');
    const config = await shippedConfig();
    delete config.vhosts['/'].connectionStrategy;
    expect(strategy(await loadTopology({ url: URLS, config }))).to.equal('fixed');
  });

  it("'random' spreads processes across the URLs; 'given' pins; either beats the config's strategy", async () => {
    expect(strategy(await loadTopology({ url: URLS, urlOrder: 'random' }))).to.equal('random');
    const config = await shippedConfig();
    config.vhosts['/'].connectionStrategy = 'random';
    expect(strategy(await loadTopology({ url: URLS, config }))).to.equal('random');
    expect(strategy(await loadTopology({ url: URLS, config, urlOrder: 'given' }))).to.equal('fixed');
  });

  it('rejects another value, naming both', async () => {
    expect(() => resolveOptions({ urlOrder: 'given' })).to.not.throw();
    const error = await rejection(loadTopology({ url: URLS, urlOrder: 'roundrobin' as never }));
    expect(error.code).to.equal('CONFIG');
    expect(error.message).to.equal("Expected `urlOrder` to be 'given' (try the URLs in order, the first preferred) or 'random' (spread processes across them), got `roundrobin` (string)");
  });
});
