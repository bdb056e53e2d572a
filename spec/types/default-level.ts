// Type test, compiled by `npm run typecheck` (never run): DefaultLevel, written out in lib/topology.ts so the published
// types do not depend on the user's resolveJsonModule, must be exactly the levels of the shipped config/rascal.json.
import type { DefaultLevel, LevelsOf } from '../../lib/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type ShippedLevel = LevelsOf<typeof import('../../config/rascal.json')>;

export const defaultLevelIsTheShippedLevels: Equal<DefaultLevel, ShippedLevel> = true;
