/**
 * Jest runs as native ESM (`node --experimental-vm-modules`, see package.json "test"): openid-client, jose and
 * oidc-provider are ESM-only, and loading them natively is closer to production than transforming them.
 * ts-jest compiles our TypeScript (transpile-only: `npm run typecheck` does the type checking).
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
};
