import { createRequire } from 'node:module';
import { quietDebug, silenceDebugUnlessAsked } from './quiet-debug';

/** Node's own require, as aedes and mqtt-packet load their packages (not jest's module registry). */
const nodeRequire = createRequire(__filename);
const packetRequire = createRequire(createRequire(nodeRequire.resolve('aedes')).resolve('mqtt-packet'));
type Factory = Parameters<typeof quietDebug>[0];

describe('quietDebug', () => {
  it('makes loggers that are disabled and print nothing, and keeps the rest of the factory', () => {
    const real = packetRequire('debug') as Factory;
    const quiet = quietDebug(real);
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const log = quiet('mqtt-packet:parser');
      expect(log.enabled).toBe(false);
      expect(log.namespace).toBe('mqtt-packet:parser');
      expect(log('parse: %s', 'x')).toBeUndefined();
      expect(log.extend('state').namespace).toBe('mqtt-packet:parser:state');
      expect(quiet['enable']).toBe(real['enable']);
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
    }
  });
});

describe('silenceDebugUnlessAsked', () => {
  it('replaces the debug mqtt-packet loads, unless DEBUG is set', () => {
    const real = packetRequire('debug') as Factory;
    // The package's own loggers read `enabled` through a getter (what costs time).
    expect(Object.getOwnPropertyDescriptor(real('x'), 'enabled')?.get).toBeInstanceOf(Function);
    expect(silenceDebugUnlessAsked({ DEBUG: 'mqtt-packet:*' }, __filename)).toBeUndefined();
    expect(packetRequire('debug')).toBe(real);

    const undo = silenceDebugUnlessAsked({}, __filename);
    try {
      expect(undo).toBeInstanceOf(Function);
      const quiet = packetRequire('debug') as Factory;
      expect(quiet).not.toBe(real);
      expect(quiet('mqtt-packet:parser').enabled).toBe(false);
    } finally {
      undo?.();
    }
    expect(packetRequire('debug')).toBe(real);
  });
});
