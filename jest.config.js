/**
 * Jest runs as native ESM (`node --experimental-vm-modules`, see package.json "test"): openid-client, jose and
 * oidc-provider are ESM-only, and loading them natively is closer to production than transforming them.
 * ts-jest compiles our TypeScript (transpile-only: `npm run typecheck` does the type checking).
 *
 * Two projects run the whole suite, one per Express major: `express5` with the `express` package, `express4` with
 * `express` mapped to the `express4` alias (npm:express@4) for every module jest loads, lib/ included. Processes a
 * test spawns (the example app, the packed-tarball consumer) get the same major through test/helpers/express-major.ts.
 */
import { existsSync } from 'node:fs';

// The browser tests (end-to-end, and the interop suites against Debian's OpenID Providers) need Debian's Chromium
// (never a downloaded browser). CI always runs them, so a CI without Chromium fails loudly; a developer machine
// without it leaves them out and says why.
const CHROMIUM = '/usr/bin/chromium';
const inCI = Boolean(process.env.CI) && process.env.CI !== 'false';
const withoutBrowser = !existsSync(CHROMIUM) && !inCI;
if (withoutBrowser) {
  console.warn(
    `test/e2e*.test.ts and test/interop-*.test.ts left out: ${CHROMIUM} not found. Install it (apt-get install -y chromium, or npm run setup as root) ` +
      'to run the browser tests; with CI=true they always run.',
  );
}

/** One project per Express major; `express` is the package name lib/ and the tests import. */
function project(major) {
  return {
    displayName: `express${major}`,
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    moduleNameMapper: {
      '^(\\.{1,2}/.*)\\.js$': '$1',
      // The example app imports the package by its own name; tests run it against the sources.
      '^express-oauth-login$': '<rootDir>/lib/index.ts',
      ...(major === 4 && { '^express$': '<rootDir>/node_modules/express4/index.js' }),
    },
    setupFiles: [`<rootDir>/test/setup/express${major}.cjs`],
    transform: { '^.+\\.ts$': ['ts-jest', { useESM: true }] },
    testMatch: ['<rootDir>/test/**/*.test.ts'],
    testPathIgnorePatterns: [
      '/node_modules/',
      ...(withoutBrowser ? ['<rootDir>/test/e2e(-[\\w-]+)?\\.test\\.ts$', '<rootDir>/test/interop-[^/]*\\.test\\.ts$'] : []),
    ],
  };
}

export default {
  projects: [project(5), project(4)],
  testTimeout: 30000,
  maxWorkers: 2,
};
