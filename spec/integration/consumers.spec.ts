// The consumer contract (consumer-contract.ts) run against both consumers of the bus: the live queue, which a logger's
// on(level, fn) declares and binds, and the catch-up listener, which a logger with `history: { since }` runs on the
// bus's history stream (from 'now' here: the contract is about what comes after it is ready).
import { EventBusLogger } from '../../lib/index.js';
import { HISTORY_CONFIG_PATH } from '../helpers.js';
import { consumerContract } from './consumer-contract.js';

consumerContract('the live queue (on(level, fn))', (options) => new EventBusLogger<string>(options));

consumerContract("the catch-up listener (history: { since: 'now' })", (options) => new EventBusLogger<string>({ ...options, config: HISTORY_CONFIG_PATH, history: { since: 'now' } }));
