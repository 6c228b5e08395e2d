import { applyStatus, type DeviceLiveState, mergeTelemetry } from './device-state';

const NOW = 1_000_000;

function aState(overrides: Partial<DeviceLiveState> = {}): DeviceLiveState {
  return { online: true, lastSeen: 500, latest: {}, ...overrides };
}

describe('mergeTelemetry', () => {
  it('adds new keys and replaces older values, leaving other keys alone', () => {
    const sut = aState({ latest: { temperature: { ts: 100, value: 20 }, door: { ts: 100, value: 'open' } } });

    const next = mergeTelemetry(sut, { deviceId: 'a', ts: 600, values: { temperature: 21.5, on: true } }, NOW);

    expect(next.latest).toEqual({
      temperature: { ts: 600, value: 21.5 },
      door: { ts: 100, value: 'open' },
      on: { ts: 600, value: true },
    });
    expect(next.lastSeen).toBe(600);
    expect(sut.latest['temperature'].value).toBe(20); // the input is not mutated
  });

  it('keeps a newer value when an older entry arrives (timed or batched telemetry)', () => {
    const sut = aState({ lastSeen: 900, latest: { temperature: { ts: 900, value: 22 } } });

    const next = mergeTelemetry(sut, { deviceId: 'a', ts: 300, values: { temperature: 18, humidity: 40 } }, NOW);

    expect(next.latest['temperature']).toEqual({ ts: 900, value: 22 });
    expect(next.latest['humidity']).toEqual({ ts: 300, value: 40 });
    expect(next.lastSeen).toBe(900);
  });

  it('returns the same object when nothing changes, so nothing re-renders', () => {
    const sut = aState({ lastSeen: 900, latest: { temperature: { ts: 900, value: 22 } } });
    expect(mergeTelemetry(sut, { deviceId: 'a', ts: 900, values: { temperature: 22 } }, NOW)).toBe(sut);
  });

  it('does not move lastSeen past now when a device clock runs ahead', () => {
    const next = mergeTelemetry(aState({ lastSeen: null }), { deviceId: 'a', ts: NOW + 60_000, values: { x: 1 } }, NOW);
    expect(next.lastSeen).toBe(NOW);
    expect(next.latest['x'].ts).toBe(NOW + 60_000);
  });
});

describe('applyStatus', () => {
  it('sets online and moves lastSeen forward', () => {
    const next = applyStatus(aState({ online: true, lastSeen: 500 }), { deviceId: 'a', online: false, ts: 700 });
    expect(next).toEqual({ online: false, lastSeen: 700, latest: {} });
  });

  it('always applies a live event, even one older than lastSeen', () => {
    const next = applyStatus(aState({ online: true, lastSeen: 900 }), { deviceId: 'a', online: false, ts: 700 });
    expect(next.online).toBe(false);
    expect(next.lastSeen).toBe(900);
  });

  it('skips an event older than the list when asked (events held while the list loaded)', () => {
    const sut = aState({ online: true, lastSeen: 900 });
    expect(applyStatus(sut, { deviceId: 'a', online: false, ts: 700 }, true)).toBe(sut);
    expect(applyStatus(sut, { deviceId: 'a', online: false, ts: 950 }, true).online).toBe(false);
  });
});
