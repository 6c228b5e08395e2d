import { RedeliveryFilter } from './redelivery-filter';

describe('RedeliveryFilter', () => {
  const topic = 'devices/d1/telemetry';
  const payload = Buffer.from('{"n":1}');

  it('takes a first delivery and drops its redelivery (DUP, same id, topic and payload)', () => {
    const sut = new RedeliveryFilter();
    expect(sut.seen(7, false, topic, payload)).toBe(false);
    expect(sut.seen(7, true, topic, payload)).toBe(true);
  });

  it('takes a new message reusing an id, and a DUP whose id carried something else', () => {
    const sut = new RedeliveryFilter();
    sut.seen(7, false, topic, payload);
    expect(sut.seen(7, false, topic, payload)).toBe(false);
    expect(sut.seen(7, true, topic, Buffer.from('{"n":2}'))).toBe(false);
    expect(sut.seen(7, true, 'devices/d2/telemetry', Buffer.from('{"n":2}'))).toBe(false);
    expect(sut.seen(8, true, topic, payload)).toBe(false);
  });

  it('forgets everything with a new session, and ignores QoS 0 (no id)', () => {
    const sut = new RedeliveryFilter();
    sut.seen(7, false, topic, payload);
    sut.clear();
    expect(sut.seen(7, true, topic, payload)).toBe(false);
    expect(sut.seen(undefined, true, topic, payload)).toBe(false);
    expect(sut.seen(undefined, true, topic, payload)).toBe(false);
  });
});
