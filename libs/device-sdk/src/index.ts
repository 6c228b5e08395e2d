export * from './lib/device-sdk';
