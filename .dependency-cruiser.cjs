/**
 * The shape of lib/, checked on every `npm test` (npm run depcheck): folders by the stage a request goes through,
 * imports one way, no cycles (type-only imports included). README "How the code is organised" draws the same
 * picture. Moving a file between folders is a change to these lines, nothing else.
 *
 *   core (errors, events, types, clock, telemetry)  <-  config/  <-  idp/, session/  <-  routes/  <-  guard/  <-  index.ts
 */
const CORE = '^lib/(errors|events|types|clock|telemetry)\\.ts$';
/** What each folder may import from lib/, besides itself. */
const LAYERS = {
  config: [CORE],
  idp: [CORE, '^lib/config/'],
  session: [CORE, '^lib/config/'],
  routes: [CORE, '^lib/config/', '^lib/idp/', '^lib/session/'],
  guard: [CORE, '^lib/config/', '^lib/idp/', '^lib/session/', '^lib/routes/'],
};

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle, type-only imports included: move the shared piece down a layer (or into types.ts).',
      from: { path: '^lib/' },
      to: { circular: true },
    },
    {
      name: 'core-imports-core-only',
      severity: 'error',
      comment: 'errors, events, types, clock and telemetry are the bottom of lib/: they import nothing above them.',
      from: { path: CORE },
      to: { path: '^lib/', pathNot: CORE },
    },
    ...Object.entries(LAYERS).map(([folder, allowed]) => ({
      name: `${folder}-imports-downward-only`,
      severity: 'error',
      comment: `lib/${folder}/ may import only ${allowed.join(', ')} and itself: nothing upward or sideways.`,
      from: { path: `^lib/${folder}/` },
      to: { path: '^lib/', pathNot: [`^lib/${folder}/`, ...allowed] },
    })),
    {
      name: 'index-is-the-public-api-only',
      severity: 'error',
      comment: 'lib/index.ts re-exports the public API; nothing inside lib/ imports it.',
      from: { path: '^lib/' },
      to: { path: '^lib/index\\.ts$' },
    },
    {
      name: 'lib-stays-in-lib',
      severity: 'error',
      comment: 'The package ships lib/ alone: it must not reach into tests, the example app or the benchmark.',
      from: { path: '^lib/' },
      to: { path: '^(test|example-app|bench|scripts)/' },
    },
    {
      name: 'lib-uses-declared-packages-only',
      severity: 'error',
      comment: 'A package lib/ imports must be a dependency or a peer dependency of the published package.',
      from: { path: '^lib/' },
      to: { dependencyTypes: ['npm-dev', 'npm-no-pkg', 'npm-unknown', 'unknown', 'undetermined'], dependencyTypesNot: ['npm-peer', 'type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^dist/' },
  },
};
