/**
 * The Express major this test run is on (jest.config.js has one project per major), and how a process the test
 * spawns gets the same one: Node's module hooks map `express` to the `express4` alias for Express 4.
 */
import { fileURLToPath } from 'node:url';

/** 4 or 5. */
export const EXPRESS_MAJOR = process.env.EXPRESS_OAUTH_LOGIN_TEST_EXPRESS === '4' ? 4 : 5;

/** The directory (under the repo's node_modules) of the Express package this run uses. */
export const EXPRESS_PACKAGE_DIR = fileURLToPath(new URL(`../../node_modules/${EXPRESS_MAJOR === 4 ? 'express4' : 'express'}/`, import.meta.url));

/** Node options for a spawned process so that its `import 'express'` loads this run's major. */
export function expressExecArgv(): string[] {
  return EXPRESS_MAJOR === 4 ? ['--import', fileURLToPath(new URL('./express4-hooks.mjs', import.meta.url))] : [];
}
