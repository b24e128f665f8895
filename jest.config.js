/**
 * Jest runs as native ESM (`node --experimental-vm-modules`, see package.json "test"): openid-client, jose and
 * oidc-provider are ESM-only, and loading them natively is closer to production than transforming them.
 * ts-jest compiles our TypeScript (transpile-only: `npm run typecheck` does the type checking).
 */
import { existsSync } from 'node:fs';

// The browser tests need Debian's Chromium (never a downloaded browser). CI always runs them, so a CI without
// Chromium fails loudly; a developer machine without it leaves them out and says why.
const CHROMIUM = '/usr/bin/chromium';
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false';
const withoutBrowser = !existsSync(CHROMIUM) && !inCI;
if (withoutBrowser) {
  console.warn(
    `test/e2e.test.ts left out: ${CHROMIUM} not found. Install it (apt-get install -y chromium, or npm run setup as root) ` +
      'to run the browser tests; with CI=true they always run.',
  );
}

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  // The example app imports the package by its own name; tests run it against the sources.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^express-oauth-login$': '<rootDir>/lib/index.ts' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', ...(withoutBrowser ? ['<rootDir>/test/e2e\\.test\\.ts$'] : [])],
  testTimeout: 30000,
  maxWorkers: 2,
};
