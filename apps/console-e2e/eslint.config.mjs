import baseConfig, { typeAware } from '../../eslint.config.mjs';

export default [
  ...baseConfig,
  // A browser step or an assertion that is not awaited passes without having run.
  typeAware(import.meta.dirname),
];
