// What runs through the cluster while a fault hits it: a publisher sending numbered events one at a time, and
// recorders of what each listener got, with the checks the cluster specs make of them.
import { expect } from 'chai';
import type { EventBusLogger, GapInfo } from '../../lib/index.js';

/** Publishes { n: 1, 2, ... } at level 'info', one at a time (each awaited), until stopped. */
export class Traffic {
  readonly confirmed: number[] = [];
  readonly rejected: Array<{ n: number; code: string | undefined; message: string }> = [];
  private sent = 0;
  private stopping = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly logger: EventBusLogger,
    private readonly pause = 2,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const n = ++this.sent;
      try {
        await this.logger.info({ n });
        this.confirmed.push(n);
      } catch (error) {
        const failure = error as Error & { code?: string };
        this.rejected.push({ n, code: failure.code, message: failure.message });
      }
      if (this.pause > 0) await new Promise((resolve) => setTimeout(resolve, this.pause));
    }
  }

  /** How many events were handed to publish() so far (the last one may still be in flight). */
  get sentSoFar(): number {
    return this.sent;
  }

  /** Resolves once `count` more events are confirmed than when called. */
  async more(count: number, ms = 60_000): Promise<void> {
    const target = this.confirmed.length + count;
    const deadline = Date.now() + ms;
    while (this.confirmed.length < target) {
      if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${count} more confirmed events (${this.confirmed.length} so far; rejected: ${JSON.stringify(this.rejected.slice(0, 3))})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops after the publish in flight settles; resolves with the number of events sent (every one settled). */
  async stop(): Promise<number> {
    this.stopping = true;
    await this.done;
    return this.sent;
  }
}

/** What one listener received: the n of each 'info' event in arrival order, its 'gap' reports and reconnects. */
export class Received {
  readonly ns: number[] = [];
  readonly gaps: GapInfo[] = [];
  readonly readyAt: number[] = [];
  reconnects = 0;
  /** Events whose x-seq was not their n (the single publisher numbers both alike): should stay 0. */
  misnumbered = 0;

  constructor(readonly logger: EventBusLogger) {
    logger.on('info', (data, meta) => {
      if (meta.seq !== data.n) this.misnumbered++;
      this.ns.push(data.n as number);
    });
    logger.on('gap', (gap) => void this.gaps.push(gap));
    logger.on('reconnected', () => void this.reconnects++);
    logger.on('ready', () => void this.readyAt.push(this.ns.length));
  }

  /** Every confirmed event exactly once, in order. */
  expectEveryOnceInOrder(confirmed: readonly number[]): void {
    expect(this.ns).to.deep.equal([...confirmed].sort((x, y) => x - y));
    expect(this.gaps).to.deep.equal([]);
    expect(this.misnumbered).to.equal(0);
  }

  /**
   * In order, never twice; every confirmed event it did not get lies inside a range a 'gap' reported; and it got
   * the confirmed events after its last reconnect (so it receives again).
   */
  expectMissedOnlyWhatGapsReported(confirmed: readonly number[]): void {
    expect(this.misnumbered).to.equal(0);
    for (let i = 1; i < this.ns.length; i++) expect(this.ns[i], `event #${i} after #${i - 1}`).to.be.greaterThan(this.ns[i - 1] as number);
    const got = new Set(this.ns);
    const reported = (n: number): boolean => this.gaps.some((gap) => n >= gap.expected && n < gap.received);
    const unexplained = confirmed.filter((n) => !got.has(n) && !reported(n));
    expect(unexplained, 'confirmed events missed without a gap report').to.deep.equal([]);
    const missed = confirmed.filter((n) => !got.has(n)).length;
    expect(this.gaps.reduce((sum, gap) => sum + gap.missed, 0), "the gaps' missed counts").to.be.at.least(missed);
  }
}
