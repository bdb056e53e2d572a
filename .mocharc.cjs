// mocha's settings. `npm test` (plain `mocha`) runs every spec; `npx mocha spec/unit/config.spec.ts` runs only the
// files named (a spec list here would be added to the files named on the command line).
const named = process.argv.slice(2).some((arg) => !arg.startsWith('-') && /(^|\/)spec\/|\.spec\.ts$/.test(arg));

module.exports = {
  'node-option': ['import=tsx'],
  // Names what a spec left open, and ends a run that would otherwise never exit (spec/open-handles.ts).
  require: ['spec/open-handles.ts'],
  ...(named ? {} : { spec: ['spec/unit/**/*.spec.ts', 'spec/integration/**/*.spec.ts', 'spec/cli/**/*.spec.ts', 'spec/package/**/*.spec.ts'] }),
  timeout: 20000,
  slow: 2000,
  reporter: 'spec',
};

// The security specs: least-privilege users, credentials, vhost isolation, TLS (README, "Security").
if (!named) module.exports.spec.push('spec/security/**/*.spec.ts');
// The bridges (winston) and the web view, in their own folders.
if (!named) module.exports.spec.push('spec/bridges/**/*.spec.ts', 'spec/web/**/*.spec.ts');
