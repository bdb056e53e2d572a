// Type test, compiled by `npm run typecheck` (never run): LOGGER_MEMBERS (lib/level-methods.ts), the names no level
// may take, lists every public member of EventBusLogger beside its emitter's and the two level methods.
import type { EventEmitter } from 'node:events';
import type { EventBusLogger } from '../../lib/index.js';
import type { LOGGER_MEMBERS } from '../../lib/level-methods.js';

type UnlistedMember = Exclude<keyof EventBusLogger<string>, (typeof LOGGER_MEMBERS)[number] | 'info' | 'critical' | keyof EventEmitter | symbol>;
export const everyMemberListed: [UnlistedMember] extends [never] ? true : UnlistedMember = true;
