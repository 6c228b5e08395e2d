import baseConfig from '../../eslint.config.mjs';

export default [
  ...baseConfig,
  {
    // Type-aware rules: a browser step or an assertion that is not awaited passes without having run.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
];
