// The way out: turns one publish(level, data) into the message the publisher sends. It checks the level, encodes
// the data (event-data.ts), checks the size, and numbers the event within its level, the sequence by which
// listeners find duplicates and gaps (wire-format.ts has where each part travels). It throws on bad input and sends
// nothing: the logger rejects that publish with what it threw, and no sequence number is spent on it.
import { encodeData } from './event-data.js';
import type { ResolvedOptions } from './options.js';
import { newPublisherId, publishProperties, type PublishProperties } from './wire-format.js';

/** The body and properties of one event, ready for the publisher. */
export interface OutgoingMessage {
  body: Buffer;
  properties: PublishProperties;
}

export class Outgoing {
  /** This logger's publisher id: `<nonce>@<host>:<pid>`. */
  readonly publisherId = newPublisherId();
  // Per level: its tag (its index among the levels) and the last sequence number spent. One lookup per event.
  readonly #numbering = new Map<string, { tag: number; seq: number }>();

  constructor(
    private readonly levels: readonly string[],
    private readonly settings: Pick<ResolvedOptions, 'appId' | 'maxMessageBytes' | 'mandatory'>,
  ) {
    levels.forEach((level, tag) => this.#numbering.set(level, { tag, seq: 0 }));
  }

  /**
   * The message of one event of `level`. Throws a TypeError for a level that is not configured or data that is not
   * a plain object (see encodeData), a RangeError for data over `maxMessageBytes`.
   */
  message(level: string, data: unknown): OutgoingMessage {
    const numbering = this.#numbering.get(level);
    if (numbering === undefined) {
      throw new TypeError(`Unknown level ${JSON.stringify(level)}; expected one of the configured levels: ${this.levels.join(', ')}`);
    }
    const body = encodeData(data);
    if (body.length > this.settings.maxMessageBytes) {
      throw new RangeError(`Event data is ${body.length} bytes of JSON, over maxMessageBytes (${this.settings.maxMessageBytes})`);
    }
    const seq = ++numbering.seq;
    return { body, properties: publishProperties(this.settings.appId, this.publisherId, numbering.tag, seq, this.settings.mandatory) };
  }
}
