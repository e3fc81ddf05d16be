/**
 * In-process pub/sub behind the GraphQL subscriptions (type-graphql's PubSub interface). One
 * gateway process only; the Redis implementation for several gateways will replace it behind
 * the same interface.
 */
import { type PubSub } from 'type-graphql';

export const Topic = {
  READINGS_INGESTED: 'READINGS_INGESTED',
} as const;
export type Topic = (typeof Topic)[keyof typeof Topic];

/** Events a slow subscriber may fall behind by before the oldest are dropped. */
const MAX_BUFFERED = 1000;

type Listener = (payload: unknown) => void;

export class InProcessPubSub implements PubSub {
  private readonly listeners = new Map<string, Set<Listener>>();

  publish(routingKey: string, ...args: unknown[]): void {
    const set = this.listeners.get(routingKey);
    if (!set) return;
    for (const l of [...set]) l(args[0]);
  }

  /** Subscribers currently listening on a topic (tests and health checks). */
  listenerCount(routingKey: string, dynamicId?: unknown): number {
    return this.listeners.get(topicKey(routingKey, dynamicId))?.size ?? 0;
  }

  subscribe(routingKey: string, dynamicId?: unknown): AsyncIterable<unknown> {
    const key = topicKey(routingKey, dynamicId);
    return { [Symbol.asyncIterator]: () => this.iterator(key) };
  }

  private iterator(key: string): AsyncIterableIterator<unknown> {
    const queue: unknown[] = [];
    let waiting: ((r: IteratorResult<unknown>) => void) | null = null;
    let done = false;
    const listener: Listener = (payload) => {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w({ value: payload, done: false });
        return;
      }
      if (queue.length >= MAX_BUFFERED) queue.shift();
      queue.push(payload);
    };
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    const stop = (): Promise<IteratorResult<unknown>> => {
      if (!done) {
        done = true;
        queue.length = 0;
        const s = this.listeners.get(key);
        s?.delete(listener);
        if (s?.size === 0) this.listeners.delete(key);
        if (waiting) {
          waiting({ value: undefined, done: true });
          waiting = null;
        }
      }
      return Promise.resolve({ value: undefined, done: true });
    };
    const it: AsyncIterableIterator<unknown> = {
      next: () => {
        if (queue.length) return Promise.resolve({ value: queue.shift(), done: false });
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: stop,
      throw: (err?: unknown) => stop().then(() => Promise.reject(err)),
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }
}

function topicKey(routingKey: string, dynamicId: unknown): string {
  return dynamicId === undefined ? routingKey : `${routingKey}:${String(dynamicId)}`;
}
