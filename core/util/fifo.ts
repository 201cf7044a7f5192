// A first-in first-out queue that keeps its storage. Engines queue calls and replies per message;
// an array emptied by `= []` (or by setting its length to 0) gives its backing store away, and the
// next push allocates a new one, so a queue that fills and drains once per datagram would cost an
// allocation per datagram. This one is a ring that only grows.

/** A FIFO queue on a ring that grows (doubling) and never shrinks; push and shift allocate nothing once grown. */
export class Fifo<T> {
  private items: (T | undefined)[];
  private mask: number;
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 16) {
    let n = 4;
    while (n < initialCapacity) n *= 2;
    this.items = Array.from({ length: n }, () => undefined);
    this.mask = n - 1;
  }

  /** Items queued. */
  get length(): number {
    return this.count;
  }

  /** Appends an item at the tail. */
  push(v: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & this.mask] = v;
    this.count++;
  }

  /** Removes and returns the item at the head, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const h = this.head;
    const v = this.items[h];
    this.items[h] = undefined;
    this.head = (h + 1) & this.mask;
    this.count--;
    return v;
  }

  /** The item at the head without removing it, or undefined when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  private grow(): void {
    const old = this.items;
    const n = old.length * 2;
    const next: (T | undefined)[] = Array.from({ length: n }, () => undefined);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & this.mask];
    this.items = next;
    this.mask = n - 1;
    this.head = 0;
  }
}
