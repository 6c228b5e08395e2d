export * from './lib/limits';
export * from './lib/time';
export * from './lib/topics';
export * from './lib/telemetry';
export * from './lib/messages';
export * from './lib/stream';
export * from './lib/socket';
export * from './lib/api';
