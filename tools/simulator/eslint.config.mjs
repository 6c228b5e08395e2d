import baseConfig from '../../eslint.config.mjs';

export default [
  ...baseConfig,
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
