import baseConfig from '../../eslint.config.mjs';

export default [
  ...baseConfig,
  {
    // Type-aware rules. A `default` counts as exhaustive here: the switches with one run over values that are not
    // the protocol's own unions (typeof results), where the default is the answer for everything else.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
    },
  },
];
