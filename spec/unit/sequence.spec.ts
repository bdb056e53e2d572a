import { expect } from 'chai';
import { SequenceTracker } from '../../lib/consume/sequence.js';

describe('SequenceTracker', () => {
  it("takes a publisher's first event, whatever its number, as the next one", () => {
    const tracker = new SequenceTracker();
    expect(tracker.check('A', 'info', 1)).to.deep.equal({ kind: 'next' });
    expect(new SequenceTracker().check('B', 'info', 42)).to.deep.equal({ kind: 'next' });
  });

  it('takes seq = last + 1 as the next one', () => {
    const tracker = new SequenceTracker();
    for (let seq = 1; seq <= 5; seq++) expect(tracker.check('A', 'info', seq), `#${seq}`).to.deep.equal({ kind: 'next' });
  });

  it('drops seq <= last as a duplicate, and a duplicate does not move the last seen number', () => {
    const tracker = new SequenceTracker();
    for (let seq = 1; seq <= 3; seq++) tracker.check('A', 'info', seq);
    expect(tracker.check('A', 'info', 3), 'the same number again').to.deep.equal({ kind: 'duplicate' });
    expect(tracker.check('A', 'info', 1), 'an older number').to.deep.equal({ kind: 'duplicate' });
    expect(tracker.check('A', 'info', 4), 'still expects 4').to.deep.equal({ kind: 'next' });
  });

  it('reports a jump as a gap with the expected number and how many were missed, then goes on from there', () => {
    const tracker = new SequenceTracker();
    tracker.check('A', 'info', 1);
    tracker.check('A', 'info', 2);
    expect(tracker.check('A', 'info', 6)).to.deep.equal({ kind: 'gap', expected: 3, missed: 3 });
    expect(tracker.check('A', 'info', 7)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'info', 4), 'a late one from the gap').to.deep.equal({ kind: 'duplicate' });
  });

  it('keeps one sequence per publisher: one publisher does not make another duplicate or gapped', () => {
    const tracker = new SequenceTracker();
    tracker.check('A', 'info', 1);
    tracker.check('A', 'info', 2);
    tracker.check('A', 'info', 3);
    expect(tracker.check('B', 'info', 1)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('B', 'info', 2)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'info', 4)).to.deep.equal({ kind: 'next' });
    expect(tracker.size).to.equal(2);
  });

  it('keeps one sequence per level of a publisher', () => {
    const tracker = new SequenceTracker();
    tracker.check('A', 'info', 1);
    tracker.check('A', 'info', 2);
    expect(tracker.check('A', 'critical', 1), 'critical counts on its own').to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'info', 3)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'critical', 3)).to.deep.equal({ kind: 'gap', expected: 2, missed: 1 });
  });

  it('does not confuse a publisher and level pair with another whose names join to the same text', () => {
    const tracker = new SequenceTracker();
    tracker.check('a', 'b.c', 5);
    expect(tracker.check('a.b', 'c', 1)).to.deep.equal({ kind: 'next' });
  });

  describe('bounded memory', () => {
    it('never remembers more than its capacity', () => {
      const tracker = new SequenceTracker(3);
      for (const publisher of ['A', 'B', 'C', 'D', 'E']) tracker.check(publisher, 'info', 1);
      expect(tracker.size).to.equal(3);
    });

    it('forgets the publisher heard from least recently, not the one first seen (LRU)', () => {
      const tracker = new SequenceTracker(2);
      expect(tracker.check('A', 'info', 1)).to.deep.equal({ kind: 'next' });
      expect(tracker.check('B', 'info', 1)).to.deep.equal({ kind: 'next' });
      // A speaks again: it is now the most recently heard, B the least.
      expect(tracker.check('A', 'info', 2)).to.deep.equal({ kind: 'next' });
      // A third publisher: one of the two must go, and it must be B.
      expect(tracker.check('C', 'info', 1)).to.deep.equal({ kind: 'next' });
      expect(tracker.size).to.equal(2);
      expect(tracker.check('A', 'info', 2), "A is remembered: its last number again is a duplicate").to.deep.equal({ kind: 'duplicate' });
      expect(tracker.check('B', 'info', 1), "B is forgotten: its old number is taken as new").to.deep.equal({ kind: 'next' });
    });

    it('keeps that order when a pair speaks many times in a row, right after one of its duplicates, or after another level', () => {
      const tracker = new SequenceTracker(2);
      tracker.check('A', 'info', 1);
      tracker.check('B', 'info', 1);
      expect(tracker.check('A', 'info', 1)).to.deep.equal({ kind: 'duplicate' });
      // A speaks after its duplicate: it must move behind B, whose pair was the last one stored.
      for (let seq = 2; seq <= 4; seq++) expect(tracker.check('A', 'info', seq)).to.deep.equal({ kind: 'next' });
      expect(tracker.check('C', 'info', 1)).to.deep.equal({ kind: 'next' });
      expect(tracker.check('A', 'info', 4), 'A is remembered').to.deep.equal({ kind: 'duplicate' });
      expect(tracker.check('B', 'info', 1), 'B is forgotten').to.deep.equal({ kind: 'next' });
      // The same publisher on another level is another pair, even right after its own.
      expect(tracker.check('B', 'critical', 1)).to.deep.equal({ kind: 'next' });
      expect(tracker.check('B', 'critical', 3)).to.deep.equal({ kind: 'gap', expected: 2, missed: 1 });
      expect(tracker.check('B', 'info', 1), 'B info is still remembered').to.deep.equal({ kind: 'duplicate' });
    });
  });
});
