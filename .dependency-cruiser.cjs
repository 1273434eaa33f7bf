/**
 * The layout's dependency rules, checked by `npm run deps` (part of `npm test`):
 * contract → nothing; lib → contract only (and CDK); lambda/engine ↛ handlers, cli, rehearsal, lib;
 * lambda/handlers ↛ cli, rehearsal, lib; cli ↛ rehearsal, lib; build → nothing of the project;
 * cli and rehearsal → lambda/engine only through lambda/engine/index.ts (the facade);
 * nothing outside lib imports lib/**\/private;
 * no file-level cycles anywhere.
 */
const RUNTIME = '^(lambda|cli|rehearsal|bin|bench)/';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'contract-is-dependency-free',
      comment: 'contract/ is imported by both the constructs and the runtime: it imports nothing but itself.',
      severity: 'error',
      from: { path: '^contract/' },
      to: { pathNot: '^contract/' },
    },
    {
      name: 'lib-imports-only-the-contract',
      comment: 'lib/ (synth time) imports nothing from the runtime but contract/.',
      severity: 'error',
      from: { path: '^lib/' },
      to: { path: RUNTIME },
    },
    {
      name: 'lib-private-stays-private',
      comment: 'Only lib/ itself imports lib/**/private.',
      severity: 'error',
      from: { pathNot: '^(lib|test)/' },
      to: { path: '^lib/.*private/' },
    },
    {
      name: 'engine-below-handlers',
      comment: 'The engine is shared by the handlers, the CLI and the rehearsal; it imports none of them.',
      severity: 'error',
      from: { path: '^lambda/engine/' },
      to: { path: '^(lambda/handlers|cli|rehearsal|lib|bin|bench)/' },
    },
    {
      name: 'handlers-are-bundled-alone',
      comment: 'What is bundled into the functions imports no CLI, rehearsal or construct code.',
      severity: 'error',
      from: { path: '^lambda/' },
      to: { path: '^(cli|rehearsal|lib|bin|bench)/' },
    },
    {
      name: 'runners-use-the-engine-facade',
      comment:
        'The CLI and the rehearsal reach the engine through its facade (lambda/engine/index.ts) only, never its internals.',
      severity: 'error',
      from: { path: '^(cli|rehearsal)/' },
      to: { path: '^lambda/engine/', pathNot: '^lambda/engine/index\\.ts$' },
    },
    {
      name: 'cli-below-rehearsal',
      severity: 'error',
      from: { path: '^cli/' },
      to: { path: '^(rehearsal|lib|bin|bench)/' },
    },
    {
      name: 'build-definition-is-standalone',
      comment:
        'build/ (what esbuild bundles) imports nothing of the project: entries are paths. From source, lib/ loads it ' +
        'by a computed path (lib/cutover/private/handler-code.ts); a built package never does.',
      severity: 'error',
      from: { path: '^build/' },
      to: { path: '^(bin|lib|lambda|contract|cli|rehearsal|bench|test)/' },
    },
    {
      name: 'entry-points-are-leaves',
      comment: 'Nothing imports bin/ (entry points) or bench/; tests may.',
      severity: 'error',
      from: { pathNot: '^(test|bin|bench)/' },
      to: { path: '^(bin|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // integ-runner's output next to the integration test (bundled assets, cloud assemblies)
    exclude: { path: '^(node_modules|dist|cdk.out|coverage)/|^test/integ/(.*\\.snapshot|cdk-integ\\.out\\.[^/]*)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
