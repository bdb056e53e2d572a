// One wording of a `'gap'` for the commands that show the bus: tail (a line on standard error) and the web view (a
// notice on the page, and the same line on standard error when the reader's own offset was out of range).
import type { GapInfo } from '../events.js';

/** A gap in words; `reader` names who missed it ("tail", "the view"). */
export function gapLine({ reason, missed, level, stream, from, to, expected, received }: GapInfo, reader: string): string {
  if (reason === 'retention') return `missed offsets ${from}..${to} (${missed}): retention deleted them before ${reader} read them`;
  if (reason === 'out-of-range') {
    const holds = from === undefined ? 'it is empty' : `it holds offsets ${from}..${to}`;
    return `offset ${expected} does not exist yet in ${stream} (${holds}; deleted and declared anew?): going on from its end, offset ${received}`;
  }
  return `missed ${missed} ${level} event(s) of one publisher`;
}
