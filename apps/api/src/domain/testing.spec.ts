import type { DeviceRepository } from './devices';
import type { EventRepository } from './events';
import { strictFake } from './testing';

describe('strictFake', () => {
  it('answers with the members given', async () => {
    const sut = strictFake<DeviceRepository>({ getSecretHash: async (id) => `hash of ${id}` }, 'devices');
    expect(await sut.getSecretHash('a')).toBe('hash of a');
  });

  it('throws on any member not given, naming the fake and the member', () => {
    const sut = strictFake<DeviceRepository>({ getSecretHash: async () => undefined }, 'devices');
    expect(() => sut.delete('a')).toThrow('devices.delete: unexpected call');
    const events = strictFake<EventRepository>({}, 'events');
    expect(() => events.epoch).toThrow('events.epoch: unexpected call');
  });

  it('is not taken for a promise or a matcher: awaiting it and expecting on it work', async () => {
    const sut = strictFake<DeviceRepository>({}, 'devices');
    await expect(Promise.resolve(sut)).resolves.toBe(sut);
  });
});
