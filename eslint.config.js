// ESLint flat config. lib/ gets typescript-eslint's type-checked rules plus the project's own small rule set; the
// tests, the example app and the benchmark get the plain recommended rules (they handle untyped JSON on purpose).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The project's own rules for lib/ (README "How the code is organised"). */
const projectRules = {
  // Express internals differ between Express 4 and 5 (Express 4's app.router getter throws): never read them.
  'no-restricted-properties': [
    'error',
    { property: '_router', message: 'Express internals differ between majors: never read app._router.' },
    { object: 'app', property: 'router', message: 'Express 4 throws on app.router: never read Express internals.' },
    { property: 'handle_error', message: 'Express internals differ between majors.' },
  ],
  'no-restricted-imports': [
    'error',
    { patterns: [{ group: ['**/index.js', '**/index.ts'], message: 'lib/index.ts is the public API only: import the module that owns the thing.' }] },
  ],
  // Tokens, codes and secrets never reach a log: lib/ reports through events and process.emitWarning only.
  'no-console': 'error',
  eqeqeq: ['error', 'always'],
  // A file past ~300 lines is telling us about a missing module.
  'max-lines': ['error', { max: 300, skipBlankLines: true, skipComments: true }],
  '@typescript-eslint/no-explicit-any': 'error',
  '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
  '@typescript-eslint/no-floating-promises': 'error',
  '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
  // idpFetch rejects like fetch does: with the AbortSignal's reason, whatever it is.
  '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true, allowThrowingAny: true }],
  // An async method that implements a Promise-returning interface need not await anything.
  '@typescript-eslint/require-await': 'off',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-artifacts/**', 'bench/results/**'] },
  js.configs.recommended,
  {
    files: ['lib/**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: projectRules,
  },
  {
    files: ['test/**/*.ts'],
    extends: [...tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['example-app/**/*.js', 'bench/**/*.js', 'scripts/**/*.mjs', 'test/**/*.cjs', 'test/**/*.mjs', '*.js', '*.cjs'],
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', URL: 'readonly', URLSearchParams: 'readonly', fetch: 'readonly',
        setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly',
        setImmediate: 'readonly', Buffer: 'readonly', AbortSignal: 'readonly', AbortController: 'readonly',
        TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', performance: 'readonly',
        crypto: 'readonly', Headers: 'readonly', Response: 'readonly', Request: 'readonly', module: 'readonly',
        require: 'readonly', __dirname: 'readonly', document: 'readonly', window: 'readonly', navigator: 'readonly',
        FormData: 'readonly', queueMicrotask: 'readonly',
      },
    },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }] },
  },
);
