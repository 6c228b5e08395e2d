import baseConfig, { typeAware } from '../../eslint.config.mjs';

export default [
  ...baseConfig,
  // A `default` counts as exhaustive: the switches with one run over values that are not the protocol's own unions
  // (typeof results), where the default is the answer for everything else.
  typeAware(import.meta.dirname, { defaultIsExhaustive: true }),
];
