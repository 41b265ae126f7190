/**
 * A first-in-first-out queue over one array and a head index: `shift` is O(1) (an
 * Array#shift is O(n)), and the consumed prefix is dropped once it is both large and
 * more than half the array, so memory stays proportional to what is queued.
 */
export class Fifo<T> implements Iterable<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, without removing it. */
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** The newest item. */
  last(): T | undefined {
    return this.head < this.items.length ? this.items[this.items.length - 1] : undefined;
  }

  /** The item `i` places after the oldest (0 is the oldest). */
  at(i: number): T | undefined {
    return i >= 0 && this.head + i < this.items.length ? this.items[this.head + i] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head] as T;
    this.items[this.head] = undefined as T; // let it be collected before the next compaction
    this.head++;
    this.compact();
    return item;
  }

  /** Removes and returns the `n` oldest items (fewer when fewer are queued). */
  take(n: number): T[] {
    const end = Math.min(this.items.length, this.head + Math.max(0, n));
    const out = this.items.slice(this.head, end);
    this.items.fill(undefined as T, this.head, end);
    this.head = end;
    this.compact();
    return out;
  }

  /** Removes and returns every item, oldest first. */
  clear(): T[] {
    return this.take(this.length);
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
