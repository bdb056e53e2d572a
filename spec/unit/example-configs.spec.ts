// The example configs are copies of the shipped config/rascal.json plus the levels they add: nothing else may
// differ, so the queue cap, heartbeat and retry settings users copy from them are the shipped ones.
import { readdir, readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { shippedConfig } from '../helpers.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
// The configs the package ships beside config/rascal.json.
const SHIPPED = new URL('../../config/', import.meta.url);

type Bindings = Record<string, Record<string, unknown>>;
type Config = { eventBusLogger?: Record<string, unknown>; vhosts: Record<string, { bindings?: Bindings; queues?: Record<string, unknown> }> };

// A config with history on (config/rascal-with-history.json): the history key, its stream queue and its binding
// taken out; what is left must be the shipped config. Returns them, or undefined when the config has no history.
function splitHistory(config: Config): { rest: Config; stream: unknown; bindings: Bindings } | undefined {
  const key = config.eventBusLogger?.history;
  if (typeof key !== 'string') return undefined;
  const rest = structuredClone(config);
  delete rest.eventBusLogger?.history;
  let stream: unknown;
  const bindings: Bindings = {};
  for (const settings of Object.values(rest.vhosts)) {
    if (settings.queues?.[key] !== undefined) {
      stream = settings.queues[key];
      delete settings.queues[key];
    }
    for (const [name, binding] of Object.entries(settings.bindings ?? {})) {
      if (binding.destination === key) {
        bindings[name] = binding;
        delete settings.bindings?.[name];
      }
    }
  }
  return { rest, stream, bindings };
}

async function exampleConfigs(): Promise<string[]> {
  const files: string[] = [];
  for (const file of (await readdir(EXAMPLES)).filter((name) => name.endsWith('.json')).sort()) {
    const json = JSON.parse(await readFile(new URL(file, EXAMPLES), 'utf8')) as Record<string, unknown>;
    if ('vhosts' in json) files.push(file);
  }
  return files;
}

// The config with the bindings the shipped config does not have taken out, and those bindings.
function splitAddedLevels(config: Config, shipped: Config): { rest: Config; added: Bindings } {
  const rest = structuredClone(config);
  const added: Bindings = {};
  for (const [vhost, settings] of Object.entries(rest.vhosts)) {
    for (const [name, binding] of Object.entries(settings.bindings ?? {})) {
      if (shipped.vhosts[vhost]?.bindings?.[name] === undefined) {
        added[name] = binding;
        delete settings.bindings?.[name];
      }
    }
  }
  return { rest, added };
}

describe('example configs', () => {
  it('there is at least one (examples/rascal-with-warning.json)', async () => {
    expect(await exampleConfigs()).to.include('rascal-with-warning.json');
  });

  it('each is the shipped config/rascal.json plus its added levels, bound like the shipped ones', async () => {
    const shipped = (await shippedConfig()) as Config;
    const [[, shippedBinding] = []] = Object.entries(Object.values(shipped.vhosts)[0]?.bindings ?? {});
    for (const file of await exampleConfigs()) {
      const example = JSON.parse(await readFile(new URL(file, EXAMPLES), 'utf8')) as Config;
      if (splitHistory(example)) continue;
      const { rest, added } = splitAddedLevels(example, shipped);
      expect(rest, `${file} differs from config/rascal.json in more than its added levels`).to.deep.equal(shipped);
      expect(Object.keys(added), `${file} adds no level`).to.not.be.empty;
      for (const [level, binding] of Object.entries(added)) {
        expect(binding, `${file}: binding "${level}"`).to.deep.equal({ ...shippedBinding, bindingKey: level });
      }
    }
  });

  it('config/rascal-with-history.json is the shipped config plus the history key, a stream queue and its # binding', async () => {
    const shipped = (await shippedConfig()) as Config;
    const example = JSON.parse(await readFile(new URL('rascal-with-history.json', SHIPPED), 'utf8')) as Config;
    const split = splitHistory(example);
    expect(split, 'it sets eventBusLogger.history').to.not.equal(undefined);
    expect(split?.rest, 'apart from its history additions it is config/rascal.json').to.deep.equal(shipped);
    expect(split?.stream).to.have.nested.property('options.arguments.x-queue-type', 'stream');
    expect(Object.values(split?.bindings ?? {})).to.deep.equal([{ source: 'logger_metaclass', destination: 'history', destinationType: 'queue', bindingKey: '#' }]);
  });

  // The README points at config/rascal-with-history.json, and at docs/history.md for the keys to merge in.
  it("docs/history.md's history edit is the one config/rascal-with-history.json makes", async () => {
    const text = await readFile(new URL('../../docs/history.md', import.meta.url), 'utf8');
    const snippet = /^```json\n(\{\n  "eventBusLogger": \{ "history": "history" \}[\s\S]*?)^```$/m.exec(text)?.[1];
    expect(snippet, 'docs/history.md: the ```json block that turns history on').to.be.a('string');
    const edit = JSON.parse(snippet as string) as { vhosts: { '/': { queues: { history: unknown }; bindings: { history: unknown } } } };
    const example = JSON.parse(await readFile(new URL('rascal-with-history.json', SHIPPED), 'utf8')) as Config;
    expect(edit.vhosts['/'].queues.history).to.deep.equal(example.vhosts['/']?.queues?.history);
    expect(edit.vhosts['/'].bindings.history).to.deep.equal(example.vhosts['/']?.bindings?.history);
  });

  it("the README's warning binding is the one examples/rascal-with-warning.json adds", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const snippet = /^```json\n("warning":[\s\S]*?)^```$/m.exec(readme)?.[1];
    expect(snippet, 'README.md: the ```json block of the "warning" binding').to.be.a('string');
    const example = JSON.parse(await readFile(new URL('rascal-with-warning.json', EXAMPLES), 'utf8')) as Config;
    expect(JSON.parse(`{${snippet}}`)).to.deep.equal({ warning: example.vhosts['/']?.bindings?.warning });
  });
});
