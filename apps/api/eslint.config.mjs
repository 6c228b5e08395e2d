import { fileURLToPath } from 'node:url';
import boundaries from 'eslint-plugin-boundaries';
import baseConfig, { typeAware } from '../../eslint.config.mjs';

/**
 * The api's layers (docs/architecture.md), enforced on every import:
 * - platform (config, logging, metrics, net) knows nothing of the rest;
 * - domain (the core's inner ring: records, repository interfaces, device
 *   events, domain errors) depends on nothing but libs/protocol;
 * - core (the services: event log, presence, users, devices, telemetry,
 *   commands, state) depends on domain and platform;
 * - storage (the database adapters) implements the domain's repositories and
 *   depends on domain and platform, never on the core's services;
 * - each edge (http: REST and SSE; ws; mqtt) depends on core, domain and
 *   platform, never on another edge or on storage;
 * - app (the composition root, main.ts) wires them all.
 * Unit specs sit beside the code they test and follow the same rules.
 */
const layers = [
  { type: 'platform', pattern: 'apps/api/src/platform/**', partialMatch: false },
  { type: 'domain', pattern: 'apps/api/src/domain/**', partialMatch: false },
  { type: 'core', pattern: 'apps/api/src/core/**', partialMatch: false },
  { type: 'storage', pattern: 'apps/api/src/storage/**', partialMatch: false },
  { type: 'edge', pattern: 'apps/api/src/edges/*/**', partialMatch: false, capture: ['edge'] },
  { type: 'app', pattern: 'apps/api/src/app/**', partialMatch: false },
];

const allow = (from, to) => ({ from: { element: { type: from } }, allow: { to } });

export default [
  ...baseConfig,
  {
    files: ['src/**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/root-path': fileURLToPath(new URL('../..', import.meta.url)),
      'boundaries/elements': layers,
      'boundaries/include': ['apps/api/src/**/*.ts'],
      'import/resolver': { node: { extensions: ['.ts', '.js'] } },
    },
    rules: {
      'boundaries/no-unknown-files': 'error',
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          message: 'the api layers: {{from.type}} must not import {{to.type}} (see apps/api/eslint.config.mjs)',
          policies: [
            allow('app', { element: { types: { anyOf: ['app', 'platform', 'domain', 'core', 'storage', 'edge'] } } }),
            allow('platform', { element: { type: 'platform' } }),
            allow('domain', { element: { type: 'domain' } }),
            allow('core', { element: { types: { anyOf: ['core', 'domain', 'platform'] } } }),
            allow('storage', { element: { types: { anyOf: ['storage', 'domain', 'platform'] } } }),
            allow('edge', { element: { types: { anyOf: ['core', 'domain', 'platform'] } } }),
            { from: { element: { type: 'edge' } }, allow: { to: { element: { type: 'edge', captured: { edge: '{{from.captured.edge}}' } } } } },
          ],
        },
      ],
    },
  },
  typeAware(import.meta.dirname),
];
