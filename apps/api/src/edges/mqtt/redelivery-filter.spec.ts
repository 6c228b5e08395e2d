import { RedeliveryFilter } from './redelivery-filter';

describe('RedeliveryFilter', () => {
  const topic = 'devices/d1/telemetry';
  const payload = Buffer.from('{"n":1}');
  const ack = () => jest.fn<void, [Error?]>();

  it('takes a first delivery and acknowledges its redelivery (DUP, same id, topic and payload) without taking it', () => {
    const sut = new RedeliveryFilter();
    const first = ack();
    const stored = sut.take(7, false, topic, payload, first);
    stored?.();
    expect(first).toHaveBeenCalledWith(undefined);
    const again = ack();
    expect(sut.take(7, true, topic, payload, again)).toBeUndefined();
    expect(again).toHaveBeenCalledWith();
  });

  it('acknowledges a redelivery of a message still being stored with that message', () => {
    const sut = new RedeliveryFilter();
    const stored = sut.take(7, false, topic, payload, ack());
    const again = ack();
    expect(sut.take(7, true, topic, payload, again)).toBeUndefined();
    expect(again).not.toHaveBeenCalled();
    stored?.();
    expect(again).toHaveBeenCalledWith(undefined);
  });

  it('acknowledges only the latest redelivery of a message still being stored (one per connection)', () => {
    const sut = new RedeliveryFilter();
    const stored = sut.take(7, false, topic, payload, ack());
    const older = ack();
    const latest = ack();
    sut.take(7, true, topic, payload, older);
    sut.take(7, true, topic, payload, latest);
    stored?.();
    expect(older).not.toHaveBeenCalled();
    expect(latest).toHaveBeenCalledWith(undefined);
  });

  it('forgets a message that could not be stored, so that its next delivery is taken', () => {
    const sut = new RedeliveryFilter();
    const first = ack();
    const stored = sut.take(7, false, topic, payload, first);
    const waiting = ack();
    sut.take(7, true, topic, payload, waiting);
    const error = new Error('not stored');
    stored?.(error);
    expect(first).toHaveBeenCalledWith(error);
    expect(waiting).toHaveBeenCalledWith(error);
    expect(sut.take(7, true, topic, payload, ack())).toBeInstanceOf(Function);
  });

  it('takes a new message reusing an id, and a DUP whose id carried something else', () => {
    const sut = new RedeliveryFilter();
    sut.take(7, false, topic, payload, ack())?.();
    expect(sut.take(7, false, topic, payload, ack())).toBeInstanceOf(Function);
    expect(sut.take(7, true, topic, Buffer.from('{"n":2}'), ack())).toBeInstanceOf(Function);
    expect(sut.take(7, true, 'devices/d2/telemetry', Buffer.from('{"n":2}'), ack())).toBeInstanceOf(Function);
    expect(sut.take(8, true, topic, payload, ack())).toBeInstanceOf(Function);
  });

  it('forgets everything with a new session', () => {
    const sut = new RedeliveryFilter();
    sut.take(7, false, topic, payload, ack())?.();
    sut.clear();
    expect(sut.take(7, true, topic, payload, ack())).toBeInstanceOf(Function);
  });
});
