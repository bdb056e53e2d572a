import { expect } from 'chai';
import { liveSequence, SEQUENCE_WINDOW, SequenceWindow } from '../../lib/consume/sequence.js';
import { REORDER_SPAN } from '../../lib/wire-format.js';

describe("A live listener's sequence check", () => {
  it("takes a publisher's first event, whatever its number, as the next one", () => {
    const tracker = liveSequence();
    expect(tracker.check('A', 'info', 1)).to.deep.equal({ kind: 'next' });
    expect(liveSequence().check('B', 'info', 42)).to.deep.equal({ kind: 'next' });
  });

  it('takes seq = last + 1 as the next one', () => {
    const tracker = liveSequence();
    for (let seq = 1; seq <= 5; seq++) expect(tracker.check('A', 'info', seq), `#${seq}`).to.deep.equal({ kind: 'next' });
  });

  it('drops seq <= last as a duplicate, and a duplicate does not move the last seen number', () => {
    const tracker = liveSequence();
    for (let seq = 1; seq <= 3; seq++) tracker.check('A', 'info', seq);
    expect(tracker.check('A', 'info', 3), 'the same number again').to.deep.equal({ kind: 'duplicate' });
    expect(tracker.check('A', 'info', 1), 'an older number').to.deep.equal({ kind: 'duplicate' });
    expect(tracker.check('A', 'info', 4), 'still expects 4').to.deep.equal({ kind: 'next' });
  });

  it('reports a jump as a gap with the expected number and how many were missed, then goes on from there', () => {
    const tracker = liveSequence();
    tracker.check('A', 'info', 1);
    tracker.check('A', 'info', 2);
    expect(tracker.check('A', 'info', 6)).to.deep.equal({ kind: 'gap', expected: 3, missed: 3 });
    expect(tracker.check('A', 'info', 7)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'info', 4), 'a late one from the gap').to.deep.equal({ kind: 'late' });
    expect(tracker.check('A', 'info', 4), 'the late one again').to.deep.equal({ kind: 'duplicate' });
  });

  // C1 of the 2026-12-02 review: a nacked event is retried after the events behind it went out.
  it('delivers a retried event once, whether or not the first copy reached the listener', () => {
    const missedIt = liveSequence();
    expect([2, 3, 1, 1].map((seq) => missedIt.check('A', 'info', seq).kind), 'the first copy of 1 lost').to.deep.equal(['next', 'next', 'late', 'duplicate']);
    const gotIt = liveSequence();
    expect([1, 2, 3, 1].map((seq) => gotIt.check('A', 'info', seq).kind), 'the first copy of 1 received').to.deep.equal(['next', 'next', 'next', 'duplicate']);
    const gapped = liveSequence();
    expect([4, 6, 7, 5].map((seq) => gapped.check('A', 'info', seq).kind), 'the review\'s case').to.deep.equal(['next', 'gap', 'next', 'late']);
  });

  it('accepts a late event up to REORDER_SPAN below the highest, and takes anything older for a duplicate', () => {
    const tracker = liveSequence();
    tracker.check('A', 'info', 1);
    const highest = 1 + REORDER_SPAN + 10;
    expect(tracker.check('A', 'info', highest)).to.deep.equal({ kind: 'gap', expected: 2, missed: highest - 2 });
    expect(tracker.check('A', 'info', highest - REORDER_SPAN + 1), 'the oldest in the window').to.deep.equal({ kind: 'late' });
    expect(tracker.check('A', 'info', highest - REORDER_SPAN), 'just beyond it').to.deep.equal({ kind: 'duplicate' });
  });

  it('forgets the numbers a jump passed over, so a later late one is not taken for a duplicate of an old one', () => {
    const tracker = new SequenceWindow(10, 8);
    for (let seq = 1; seq <= 8; seq++) tracker.check('A', 'info', seq);
    // 9..16 reuse the bits of 1..8: the jump to 16 must clear those of 9..15.
    expect(tracker.check('A', 'info', 16)).to.deep.equal({ kind: 'gap', expected: 9, missed: 7 });
    for (let seq = 9; seq <= 15; seq++) expect(tracker.check('A', 'info', seq), `#${seq}`).to.deep.equal({ kind: 'late' });
  });

  it('keeps one sequence per publisher: one publisher does not make another duplicate or gapped', () => {
    const tracker = liveSequence();
    tracker.check('A', 'info', 1);
    tracker.check('A', 'info', 2);
    tracker.check('A', 'info', 3);
    expect(tracker.check('B', 'info', 1)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('B', 'info', 2)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'info', 4)).to.deep.equal({ kind: 'next' });
    expect(tracker.size).to.equal(2);
  });

  it('keeps one sequence per level of a publisher', () => {
    const tracker = liveSequence();
    tracker.check('A', 'info', 1);
    tracker.check('A', 'info', 2);
    expect(tracker.check('A', 'critical', 1), 'critical counts on its own').to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'info', 3)).to.deep.equal({ kind: 'next' });
    expect(tracker.check('A', 'critical', 3)).to.deep.equal({ kind: 'gap', expected: 2, missed: 1 });
  });

  it('does not confuse a publisher and level pair with another whose names join to the same text', () => {
    const tracker = liveSequence();
    tracker.check('a', 'b.c', 5);
    expect(tracker.check('a.b', 'c', 1)).to.deep.equal({ kind: 'next' });
  });

  describe('bounded memory', () => {
    it('never remembers more than its capacity', () => {
      const tracker = liveSequence(3);
      for (const publisher of ['A', 'B', 'C', 'D', 'E']) tracker.check(publisher, 'info', 1);
      expect(tracker.size).to.equal(3);
    });

    it('forgets the publisher heard from least recently, not the one first seen (LRU)', () => {
      const tracker = liveSequence(2);
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
      const tracker = liveSequence(2);
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

describe("A history reader's sequence check (SequenceWindow)", () => {
  it('delivers in-order events and drops an exact re-send', () => {
    const window = new SequenceWindow();
    for (let seq = 1; seq <= 5; seq++) expect(window.check('A', 'info', seq).kind, `#${seq}`).to.equal('next');
    expect(window.check('A', 'info', 3)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'info', 5)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'critical', 3).kind, 'another level is another sequence').to.equal('next');
  });

  it('delivers, late, a re-sent event whose first copy never reached the stream; its second re-send is a duplicate', () => {
    const window = new SequenceWindow();
    window.check('A', 'info', 1);
    window.check('A', 'info', 2);
    // 3 and 4 were lost before the stream; the publisher re-sends 3, 4 after 5 went through.
    expect(window.check('A', 'info', 5)).to.deep.equal({ kind: 'gap', expected: 3, missed: 2 });
    expect(window.check('A', 'info', 3)).to.deep.equal({ kind: 'late' });
    expect(window.check('A', 'info', 4)).to.deep.equal({ kind: 'late' });
    expect(window.check('A', 'info', 3)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'info', 5)).to.deep.equal({ kind: 'duplicate' });
    expect(window.check('A', 'info', 6)).to.deep.equal({ kind: 'next' });
  });

  it('remembers a window of numbers below the highest: older ones are taken for duplicates', () => {
    const window = new SequenceWindow(10, 64);
    window.check('A', 'info', 1);
    expect(window.check('A', 'info', 100).kind).to.equal('gap');
    expect(window.check('A', 'info', 37), 'within 64 of 100, never seen').to.deep.equal({ kind: 'late' });
    expect(window.check('A', 'info', 36), 'beyond the window').to.deep.equal({ kind: 'duplicate' });
    // The bitmap is a ring: numbers seen a window ago do not shadow new ones.
    expect(window.check('A', 'info', 101)).to.deep.equal({ kind: 'next' });
    expect(window.check('A', 'info', 165)).to.deep.equal({ kind: 'gap', expected: 102, missed: 63 });
    expect(window.check('A', 'info', 103), 'skipped over by the jump to 165').to.deep.equal({ kind: 'late' });
  });

  it('is bounded: beyond its capacity it forgets the pair heard from least recently', () => {
    const window = new SequenceWindow(2);
    window.check('A', 'info', 1);
    window.check('B', 'info', 1);
    window.check('A', 'info', 2);
    window.check('C', 'info', 1);
    expect(window.size).to.equal(2);
    expect(window.check('A', 'info', 2).kind, 'A was kept').to.equal('duplicate');
    expect(window.check('B', 'info', 1).kind, 'B was forgotten').to.equal('next');
    expect(SEQUENCE_WINDOW).to.be.at.least(10_000);
  });
});
