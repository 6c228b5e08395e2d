import baseConfig, { typeAware } from '../../eslint.config.mjs';

/**
 * The build (scripts/build-package.mjs) compiles the parts of libs/protocol the SDK
 * uses into the package, so this buildable library may import the non-buildable
 * protocol; the other module boundaries stay as the workspace sets them.
 */
function allowProtocolImports(config) {
  const rule = config.rules?.['@nx/enforce-module-boundaries'];
  if (!Array.isArray(rule)) return config;
  const [level, options] = rule;
  const boundaries = [level, { ...options, enforceBuildableLibDependency: false }];
  return { ...config, rules: { ...config.rules, '@nx/enforce-module-boundaries': boundaries } };
}

export default [
  ...baseConfig.map(allowProtocolImports),
  typeAware(import.meta.dirname),
];
