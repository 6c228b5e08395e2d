import type { NewDelivery, WebhookRecord, WebhookRepository } from '../src/domain/webhooks';
import { type AnyStore, engines, freshStore } from './storage-engines';

const webhook = (id: string, overrides: Partial<WebhookRecord> = {}): WebhookRecord => ({
  id,
  name: `hook ${id}`,
  url: `https://example.com/${id}`,
  secret: `secret-${id}`,
  minSeverity: null,
  ruleIds: null,
  enabled: true,
  createdBy: 'admin',
  createdAt: 1,
  updatedAt: 1,
  ...overrides,
});

/** Delivery ids as the service makes them: time-ordered, 36 characters. */
const deliveryId = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

const delivery = (n: number, webhookId = 'w1', createdAt = 1_000): NewDelivery => ({
  id: deliveryId(n),
  webhookId,
  seq: n,
  event: 'alarm',
  alarmId: `a${n}`,
  data: `{"alarmId":"a${n}"}`,
  createdAt,
});

const retry = { status: 'pending' as const, lastStatusCode: 500, lastError: 'HTTP 500', deliveredAt: null };

describe.each(engines())('WebhookRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: WebhookRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.webhooks;
  });

  it('stores, lists, replaces and deletes webhooks with their fields', async () => {
    await sut.insert(webhook('w1', { minSeverity: 'major', ruleIds: ['r1', 'r2'], createdAt: 1 }));
    await sut.insert(webhook('w2', { enabled: false, createdAt: 2 }));
    expect(await sut.count()).toBe(2);
    expect(await sut.get('w1')).toEqual(webhook('w1', { minSeverity: 'major', ruleIds: ['r1', 'r2'] }));
    expect((await sut.list()).map((w) => [w.id, w.enabled])).toEqual([
      ['w1', true],
      ['w2', false],
    ]);
    const replaced = webhook('w1', { name: 'renamed', url: 'http://h/x', secret: 'new', updatedAt: 5, createdAt: 99 });
    expect(await sut.update(replaced)).toBe(true);
    // The creation is kept.
    expect(await sut.get('w1')).toEqual({ ...replaced, createdAt: 1 });
    expect(await sut.update(webhook('nope'))).toBe(false);
    await sut.addDeliveries([delivery(1)]);
    expect(await sut.delete('w1')).toBe(true);
    expect(await sut.delete('w1')).toBe(false);
    expect(await sut.get('w1')).toBeUndefined();
    expect(await sut.deliveries('w1', { limit: 10 })).toEqual([]);
  });

  it('stores one delivery per webhook and seq, whoever adds it and however often', async () => {
    await sut.insert(webhook('w1'));
    await sut.insert(webhook('w2'));
    expect(await sut.addDeliveries([delivery(1), delivery(2), { ...delivery(1, 'w2'), id: deliveryId(101) }])).toBe(3);
    // Another replica saw the same events: its rows (other ids) are dropped.
    expect(await sut.addDeliveries([{ ...delivery(1), id: deliveryId(100) }, delivery(3)])).toBe(1);
    // A webhook deleted meanwhile gets none.
    expect(await sut.addDeliveries([{ ...delivery(4, 'gone'), id: deliveryId(104) }])).toBe(0);
    const log = await sut.deliveries('w1', { limit: 10 });
    expect(log.map((d) => d.seq)).toEqual([3, 2, 1]);
    expect(log[2]).toEqual({
      ...delivery(1),
      status: 'pending',
      attempts: 0,
      lastStatusCode: null,
      lastError: null,
      nextAttemptAt: 1_000,
      leaseUntil: 0,
      deliveredAt: null,
    });
  });

  it('lets one claimant at a time hold a due delivery, until its lease runs out', async () => {
    await sut.insert(webhook('w1'));
    await sut.addDeliveries([delivery(1), delivery(2)]);
    expect((await sut.due(999, 10)).length).toBe(0);
    expect((await sut.due(1_000, 10)).map((d) => d.seq)).toEqual([1, 2]);
    expect(await sut.claim(deliveryId(1), 1_000, 61_000)).toBe(true);
    expect(await sut.claim(deliveryId(1), 1_000, 61_000)).toBe(false);
    expect((await sut.due(2_000, 10)).map((d) => d.seq)).toEqual([2]);
    // The holder died: once the lease ran out another takes it over, and the first one's late outcome is ignored.
    expect((await sut.due(61_000, 10)).map((d) => d.seq)).toEqual([1, 2]);
    expect(await sut.claim(deliveryId(1), 61_000, 121_000)).toBe(true);
    expect(await sut.settle(deliveryId(1), 61_000, { ...retry, nextAttemptAt: 1 })).toBe(false);
    expect(await sut.settle(deliveryId(1), 121_000, { ...retry, nextAttemptAt: 70_000 })).toBe(true);
    const [row] = await sut.deliveries('w1', { limit: 1, beforeId: deliveryId(2) });
    expect(row).toMatchObject({ attempts: 2, status: 'pending', lastStatusCode: 500, leaseUntil: 0 });
    expect((await sut.due(69_999, 10)).map((d) => d.seq)).toEqual([2]);
    expect(await sut.claim(deliveryId(1), 70_000, 130_000)).toBe(true);
    const done = { status: 'delivered' as const, lastStatusCode: 204, lastError: null, nextAttemptAt: null };
    expect(await sut.settle(deliveryId(1), 130_000, { ...done, deliveredAt: 70_010 })).toBe(true);
    expect((await sut.deliveries('w1', { limit: 10, status: 'delivered' }))[0]).toMatchObject({
      seq: 1,
      attempts: 3,
      lastError: null,
      deliveredAt: 70_010,
      nextAttemptAt: null,
    });
    expect((await sut.due(200_000, 10)).map((d) => d.seq)).toEqual([2]);
  });

  it('pages the log newest first by status, gives up the oldest pending past a bound, and prunes old settled rows', async () => {
    await sut.insert(webhook('w1'));
    await sut.insert(webhook('w2'));
    await sut.addDeliveries([1, 2, 3, 4, 5].map((n) => delivery(n, 'w1', n * 100)));
    await sut.addDeliveries([{ ...delivery(6, 'w2'), seq: 1 }]);
    expect(await sut.capPending('w1', 3, 'too many pending')).toBe(2);
    expect(await sut.capPending('w1', 3, 'too many pending')).toBe(0);
    const failed = await sut.deliveries('w1', { limit: 10, status: 'failed' });
    expect(failed.map((d) => [d.seq, d.lastError, d.nextAttemptAt])).toEqual([
      [2, 'too many pending', null],
      [1, 'too many pending', null],
    ]);
    expect((await sut.deliveries('w1', { limit: 2 })).map((d) => d.seq)).toEqual([5, 4]);
    expect((await sut.deliveries('w1', { limit: 2, beforeId: deliveryId(4) })).map((d) => d.seq)).toEqual([3, 2]);
    expect((await sut.deliveries('w2', { limit: 10, status: 'pending' })).map((d) => d.seq)).toEqual([1]);
    // Only settled rows go: 1 and 2 are before 250, 3 is pending.
    expect(await sut.prune(350)).toBe(2);
    expect((await sut.deliveries('w1', { limit: 10 })).map((d) => d.seq)).toEqual([5, 4, 3]);
  });
});
