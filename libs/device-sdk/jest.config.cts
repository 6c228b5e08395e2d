module.exports = {
  displayName: 'device-sdk',
  preset: '../../jest.preset.js',
  testEnvironment: 'node',
  transform: {
    '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  // aedes 1.x (the specs' in-process broker) ships ESM only; let ts-jest turn it into CommonJS.
  transformIgnorePatterns: ['/node_modules/(?!aedes/)'],
  moduleFileExtensions: ['ts', 'js', 'html'],
  coverageDirectory: '../../coverage/libs/device-sdk',
};
