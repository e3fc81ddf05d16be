/** Redis Streams transport details that need a real Redis (skipped without REDIS_URL). */
import crypto from 'node:crypto';
import Redis from 'ioredis';
import { RedisQueue } from '../../src/ingest/queue/redis';

const url = process.env.REDIS_URL;
const maybe = url ? describe : describe.skip;

maybe('RedisQueue', () => {
  let admin: Redis;
  beforeAll(() => {
    admin = new Redis(url!);
  });
  afterAll(async () => {
    await admin.quit();
  });

  const consumers = async (q: RedisQueue): Promise<string[]> => {
    const info = (await admin.xinfo('CONSUMERS', q.stream, q.group)) as unknown[][];
    return info.map((c) => String(c[1])).sort();
  };

  test('close() deletes its consumers with nothing pending and keeps one holding an entry', async () => {
    const stream = `md-test:${crypto.randomBytes(6).toString('hex')}`;
    const q = new RedisQueue({ url: url!, stream, claimIdleMs: 60_000 });
    await q.publish([
      { fileId: 1, seq: 0 },
      { fileId: 1, seq: 1 },
    ]);
    const a = await q.take('a', 1, 100);
    const b = await q.take('b', 1, 100);
    expect([...a, ...b].map((d) => d.seq).sort()).toEqual([0, 1]);
    await q.ack(a[0]!); // 'a' has nothing pending; 'b' still holds its entry
    expect(await consumers(q)).toEqual(['a', 'b']);
    await q.close();
    expect(await consumers(q)).toEqual(['b']);
    // b's entry is still in the group's pending list, for another consumer to claim
    const pending = (await admin.xpending(stream, q.group)) as [number, ...unknown[]];
    expect(pending[0]).toBe(1);
    await admin.del(stream, `${stream}:dead`);
  });
});
