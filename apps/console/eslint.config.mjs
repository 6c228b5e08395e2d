import nx from '@nx/eslint-plugin';
import baseConfig, { typeAware } from '../../eslint.config.mjs';

export default [
  ...nx.configs['flat/angular'],
  ...nx.configs['flat/angular-template'],
  ...baseConfig,
  {
    files: ['**/*.ts'],
    rules: {
      '@angular-eslint/directive-selector': [
        'error',
        {
          type: 'attribute',
          prefix: 'iot',
          style: 'camelCase',
        },
      ],
      // Signals drive rendering: every component is OnPush.
      '@angular-eslint/prefer-on-push-component-change-detection': 'error',
      '@angular-eslint/component-selector': [
        'error',
        {
          type: 'element',
          prefix: 'iot',
          style: 'kebab-case',
        },
      ],
    },
  },
  // A `default` counts as exhaustive: where a switch has one, it is the intended answer for every other member
  // (zod's issue codes are not the console's to enumerate).
  typeAware(import.meta.dirname, { defaultIsExhaustive: true }),
  {
    files: ['**/*.html'],
    // Override or add rules here
    rules: {},
  },
];
