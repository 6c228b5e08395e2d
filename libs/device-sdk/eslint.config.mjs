import baseConfig from '../../eslint.config.mjs';

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
  {
    // Type-aware rules: a dropped promise or a non-exhaustive switch is a bug in a device loop.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
    },
  },
];
