import { Logger } from '@nestjs/common';
import { EventBus } from './event-bus';

describe('EventBus', () => {
  let sut: EventBus;

  beforeEach(() => {
    sut = new EventBus();
  });

  it('calls each listener of an event with its arguments, in the order they subscribed', () => {
    const seen: string[] = [];
    sut.on('sessions.ended', (ids) => seen.push(`a:${[...ids].join(',')}`));
    sut.on('sessions.ended', (ids) => seen.push(`b:${[...ids].join(',')}`));
    sut.on('command.transition', () => seen.push('other event'));
    sut.emit('sessions.ended', new Set(['s1', 's2']));
    expect(seen).toEqual(['a:s1,s2', 'b:s1,s2']);
  });

  it('stops calling a listener once it unsubscribes', () => {
    const listener = jest.fn();
    const stop = sut.on('committed', listener);
    sut.emit('committed', [], []);
    stop();
    stop();
    sut.emit('committed', [], []);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('logs a listener that throws and still calls the others', () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const after = jest.fn();
    sut.on('sessions.ended', () => {
      throw new Error('boom');
    });
    sut.on('sessions.ended', after);
    expect(() => sut.emit('sessions.ended', new Set(['s']))).not.toThrow();
    expect(after).toHaveBeenCalledTimes(1);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('boom'));
    logged.mockRestore();
  });
});
