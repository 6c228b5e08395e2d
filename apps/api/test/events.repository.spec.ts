import { deviceEvents, type EventRepository, telemetryEvent } from '../src/domain/events';
import { postgresMissing } from './postgres';
import { type AnyStore, device, engines, freshStore } from './storage-engines';

describe.each(engines())('EventRepository on %s', (engine) => {
  const open = freshStore(engine);
  let store: AnyStore;
  let sut: EventRepository;

  beforeEach(async () => {
    store = await open();
    sut = store.events;
    for (const id of ['a', 'b']) await store.devices.create(device(id), 'h');
  });

  it('numbers events from 1 in the order given, across batches given before the last settled', async () => {
    const first = sut.append([telemetryEvent('a', 1, { t: 1 }), telemetryEvent('b', 1, { t: 2 })]);
    const second = sut.append([deviceEvents.status('a', true, 2)]);
    const third = sut.append([telemetryEvent('a', 3, { t: 3 })]);
    const seqs = (await Promise.all([first, second, third])).map((batch) => batch.map((e) => e.seq));
    expect(seqs).toEqual([[1, 2], [3], [4]]);
    expect((await sut.eventsAfter(0, {}, 10)).map((e) => [e.seq, e.deviceId, e.type])).toEqual([
      [1, 'a', 'telemetry'],
      [2, 'b', 'telemetry'],
      [3, 'a', 'status'],
      [4, 'a', 'telemetry'],
    ]);
    expect(await sut.bounds()).toEqual({ prunedThrough: 0, last: 4 });
  });

  it('drops events of devices that do not exist, storing nothing of theirs', async () => {
    const stored = await sut.append([telemetryEvent('ghost', 5, { t: 1 }), telemetryEvent('a', 5, { t: 2 })]);
    expect(stored).toEqual([{ seq: 1, type: 'telemetry', deviceId: 'a', data: telemetryEvent('a', 5, { t: 2 }).data }]);
    expect(await sut.append([telemetryEvent('ghost', 6, { t: 1 })])).toEqual([]);
    expect((await store.telemetry.latest(['ghost'])).size).toBe(0);
    expect((await sut.eventsAfter(0, {}, 10)).length).toBe(1);
  });

  it('records presence, last-seen time and the newest values of a batch once it is stored', async () => {
    const before = Date.now();
    await sut.append([
      deviceEvents.status('a', true, 10),
      telemetryEvent('a', 20, { t: 1, mode: 'eco' }),
      telemetryEvent('a', 15, { t: 9, on: false }),
      deviceEvents.status('b', true, 10),
      deviceEvents.status('b', false, 11),
    ]);
    const a = await store.devices.get('a');
    expect(a?.online).toBe(true);
    expect(a?.lastSeen).toBeGreaterThanOrEqual(before);
    expect((await store.devices.get('b'))?.online).toBe(false);
    expect((await store.telemetry.latest(['a'])).get('a')).toEqual({
      t: { ts: 20, value: 1 },
      mode: { ts: 20, value: 'eco' },
      on: { ts: 15, value: false },
    });
    // An older value arriving later does not replace a newer one.
    await sut.append([telemetryEvent('a', 12, { t: 5 }), deviceEvents.status('a', false, 30)]);
    expect((await store.telemetry.latest(['a'])).get('a')?.['t']).toEqual({ ts: 20, value: 1 });
    expect((await store.devices.get('a'))?.online).toBe(false);
  });

  it('pages events after a seq by device, type, limit and byte budget', async () => {
    const big = 'x'.repeat(100);
    await sut.append([
      telemetryEvent('a', 1, { s: big }),
      deviceEvents.status('b', true, 1),
      telemetryEvent('b', 2, { s: big }),
      telemetryEvent('a', 3, { s: big }),
      deviceEvents.status('a', false, 4),
    ]);
    const seqsOf = (events: Array<{ seq: number }>) => events.map((e) => e.seq);
    expect(seqsOf(await sut.eventsAfter(1, {}, 10))).toEqual([2, 3, 4, 5]);
    expect(seqsOf(await sut.eventsAfter(0, {}, 2))).toEqual([1, 2]);
    expect(seqsOf(await sut.eventsAfter(0, { deviceIds: new Set(['a']) }, 10))).toEqual([1, 4, 5]);
    expect(seqsOf(await sut.eventsAfter(0, { types: new Set(['status'] as const) }, 10))).toEqual([2, 5]);
    expect(
      seqsOf(await sut.eventsAfter(0, { deviceIds: new Set(['b']), types: new Set(['telemetry'] as const) }, 10)),
    ).toEqual([3]);
    // The page ends after the event that brings it to the budget.
    const size = telemetryEvent('a', 1, { s: big }).data.length;
    expect(seqsOf(await sut.eventsAfter(0, {}, 10, size + 1))).toEqual([1, 2]);
    expect(seqsOf(await sut.eventsAfter(0, {}, 10, 1))).toEqual([1]);
  });

  it('prunes a prefix of events stored before a time, at most a batch, and keeps the bounds', async () => {
    await sut.append([
      deviceEvents.status('a', true, 1),
      deviceEvents.status('a', false, 2),
      deviceEvents.status('a', true, 3),
    ]);
    expect(await sut.prune(0, 10)).toBe(0);
    const later = Date.now() + 60_000;
    expect(await sut.prune(later, 2)).toBe(2);
    expect(await sut.bounds()).toEqual({ prunedThrough: 2, last: 3 });
    expect((await sut.eventsAfter(0, {}, 10)).map((e) => e.seq)).toEqual([3]);
    expect(await sut.prune(later, 10)).toBe(1);
    expect(await sut.bounds()).toEqual({ prunedThrough: 3, last: 3 });
    // Seqs are never reused.
    expect((await sut.append([deviceEvents.status('a', true, 4)]))[0].seq).toBe(4);
  });

  it('has an epoch that stays with the database', () => {
    expect(sut.epoch).toMatch(/^[0-9a-z]+$/);
  });
});

(postgresMissing() ? describe.skip : describe)('EventRepository on PostgreSQL: a failed batch', () => {
  const open = freshStore('PostgreSQL');

  it('fails the batches given after it until its rejection is seen, and none is stored ahead of it', async () => {
    const store = await open();
    await store.devices.create(device('a'), 'h');
    // PostgreSQL text holds no NUL character: the batch fails.
    const failing = store.events.append([{ type: 'status', deviceId: 'a', ts: 1, online: true, data: 'bad\0' }]);
    const behind = store.events.append([deviceEvents.status('a', true, 2)]);
    await expect(failing).rejects.toThrow();
    await expect(behind).rejects.toThrow();
    const again = await store.events.append([deviceEvents.status('a', true, 2)]);
    expect(again.length).toBe(1);
    expect((await store.events.eventsAfter(0, {}, 10)).map((e) => e.data)).toEqual([again[0].data]);
  });

  it('stores a NUL in a telemetry string or a state document as U+FFFD, and the event as sent', async () => {
    const store = await open();
    await store.devices.create(device('a'), 'h');
    const event = telemetryEvent('a', 5, { s: 'a\0b' });
    expect((await store.events.append([event]))[0].data).toBe(event.data);
    expect((await store.telemetry.latest(['a'])).get('a')).toEqual({ s: { ts: 5, value: 'a\ufffdb' } });
    expect(await store.telemetry.history({ deviceId: 'a', limit: 10, order: 'asc' })).toEqual({ s: [[5, 'a\ufffdb']] });
    await store.deviceState.save(
      'a',
      { reported: { s: '\0' }, desired: {}, version: 0, reportedAt: 1, desiredAt: null },
      0,
    );
    expect((await store.deviceState.get('a')).state.reported).toEqual({ s: '\ufffd' });
  });
});
