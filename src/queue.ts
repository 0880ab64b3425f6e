// A small asyncio.Queue look-alike for the deprecated `SubscriberAsync.queue` / `listen()` API.
import { QueueEmptyError } from './errors'

/** An unbounded FIFO queue whose `get()` waits for an item. */
export class AsyncQueue<T> {
  private items: T[] = []
  private head = 0
  private waiters: Array<(v: T) => void> = []

  /** Number of items waiting. */
  get size(): number {
    return this.items.length - this.head
  }

  empty(): boolean {
    return this.size === 0
  }

  async put(item: T): Promise<void> {
    this.putNowait(item)
  }

  putNowait(item: T): void {
    const w = this.waiters.shift()
    if (w) w(item)
    else this.items.push(item)
  }

  get(): Promise<T> {
    if (this.size > 0) return Promise.resolve(this.getNowait())
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  getNowait(): T {
    if (this.size === 0) throw new QueueEmptyError()
    const item = this.items[this.head++] as T
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
}
