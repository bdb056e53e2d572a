// A first-in first-out queue of events that keeps the sum of their body sizes: the publisher's buffer (events not
// yet sent) and its window (events sent and not yet settled). An array with a moving head, so taking the oldest of
// 100,000 waiting events costs the same as of ten (Array.prototype.shift moves every element).

export class EventQueue<T extends { body: Buffer }> {
  #items: Array<T | undefined> = [];
  #head = 0;
  #bytes = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The sum of the bodies' sizes, in bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The oldest, without taking it. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  push(item: T): void {
    this.#items.push(item);
    this.#bytes += item.body.length;
  }

  /** Takes the newest back (it was pushed and could not be sent). */
  pop(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items.pop() as T;
    this.#bytes -= item.body.length;
    if (this.#head === this.#items.length) this.#clear();
    return item;
  }

  /** Puts one back in front (it was taken and could not be sent). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
    this.#bytes += item.body.length;
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head] as T;
    this.#items[this.#head++] = undefined;
    this.#bytes -= item.body.length;
    if (this.#head === this.#items.length) this.#clear();
    else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      // Drop the taken slots once they are half the array: each element is moved at most once per halving.
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the queue and returns what it held, oldest first. */
  takeAll(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#clear();
    return items;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i] as T;
  }

  #clear(): void {
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}
