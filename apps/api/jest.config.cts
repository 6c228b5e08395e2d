module.exports = {
  displayName: 'api',
  preset: '../../jest.preset.js',
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  // aedes 1.x ships ESM only; let ts-jest turn it into CommonJS for the tests.
  transformIgnorePatterns: ['/node_modules/(?!aedes/)'],
  moduleFileExtensions: ['ts', 'js', 'html'],
  // Integration tests start the real app and wait on real events; a loaded CI machine is slower.
  testTimeout: 30_000,
  coverageDirectory: '../../coverage/apps/api',
};
