// Bundles the tsc output (dist/runtime) into what users run: dist/bin/*.cjs.
//
// Why this shape (bench/start.sh measures it; the README's table has the numbers):
// - One CommonJS file per program. Node 20's ESM loader costs ~40 ms more per
//   command than require() of the same code, and a CLI pays it on every call.
// - A V8 code cache. Compiling the ~1 MB bundle is the largest part of what
//   remains (~25 ms); V8 can instead deserialize the code it compiled last
//   time. Node 20 has no module compile cache (module.enableCompileCache is
//   22+), so a small launcher compiles the body itself with vm.Script and
//   `cachedData`. V8 rejects a cache on its own if the source or Node's
//   version or flags differ; the launcher then rewrites it (or runs uncached
//   when it cannot write, e.g. as a user who does not own dist/).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

// Node builtins that Node itself has not loaded by the time a command starts
// cost a compile each, ~0.1-1 ms per internal module: crypto alone is a dozen.
// The bundle imports them all (the CLI is one file), though `ps` needs none
// and `run` few, so each becomes a module of getters that loads the real one
// on first use. skiff's own code reads stream's classes at use (`new
// PassThrough()`), never its default export, so it can be lazy too: `ps`
// writes with write(2) (cli/output.ts) and no longer loads node:stream.
//
// yargs is not bundled: cli/quick-parse.ts reads most lines without it, and
// cli.ts requires it from node_modules for the rest (--help, errors).
const LAZY_BUILTINS = new Set(['child_process', 'crypto', 'dgram', 'fs/promises', 'http', 'https', 'module', 'net', 'os', 'readline',
  'stream', 'stream/promises', 'string_decoder', 'tls', 'tty', 'v8', 'worker_threads', 'zlib']);
// Packages only some commands use get the same stand-in: their code stays in
// the bundle (compiled from the code cache when used) but runs on first use.
// docker-names is 55 KB of word lists that only `create` needs. (Required
// from node_modules at run time instead, it cost ~8 ms of uncached
// compiling in the `run` that does need it.)
const LAZY_PACKAGES = new Set(['docker-names']);
const nodeRequire = createRequire(import.meta.url);

// A module that requires SPECIFIER on first use. It has no properties of its
// own: esbuild's __toESM copies each one into every importer's view at start
// (crypto has 73, in six modules of `ps`: ~2 ms). Reads go through its
// prototype, a proxy to the real module, with the methods of the real one's
// class bound to it (docker-names exports an instance of a class).
function standIn(specifier) {
  const real = nodeRequire(specifier);
  const proto = Object.getPrototypeOf(real);
  const methods = proto && proto !== Object.prototype && proto !== Function.prototype
    ? Object.getOwnPropertyNames(proto).filter((n) => n !== 'constructor') : [];
  return `let real;
const load = () => (real ??= require(${JSON.stringify(specifier)}));
const methods = new Set(${JSON.stringify(methods)});
Object.setPrototypeOf(exports, new Proxy({}, {
  get: (_t, name) => {
    if (typeof name !== 'string') return undefined;
    const value = load()[name];
    return methods.has(name) ? value.bind(real) : value;
  },
  has: (_t, name) => name in load(),
}));`;
}

const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: /^[a-z][a-z-]*$/ }, (args) => {
      if (!LAZY_PACKAGES.has(args.path) || args.namespace === 'lazy-package') return undefined;
      return { path: args.path, namespace: 'lazy-package' };
    });
    // resolveDir: the stand-in's require of the package resolves (and is bundled) from here.
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, ({ path }) => ({ loader: 'js', resolveDir: pkg, contents: standIn(path) }));
    b.onResolve({ filter: /^(node:)?[a-z0-9_]+(\/[a-z_]+)?$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!LAZY_BUILTINS.has(name)) return undefined;
      // The stand-in's own require of the real module stays a plain require.
      if (args.namespace === 'lazy-builtin') return { path: `node:${name}`, external: true };
      return { path: name, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, ({ path }) => ({ loader: 'js', contents: standIn(`node:${path}`) }));
  },
};
const out = join(pkg, 'dist', 'bin');
rmSync(out, { recursive: true, force: true });

// Programs started as processes: a launcher plus a cached body.
const launched = { main: 'dist/runtime/cli/main.js', monitor: 'dist/runtime/container/monitor.js', runc: 'dist/runtime/oci/cli/runc.js' };
// Started as a worker thread inside the CLI: small, loaded directly.
const direct = { 'unpack-worker': 'dist/runtime/image/unpack-worker.js' };

// One more CLI body per verb, holding only what that verb imports: `ps` then
// reads and compiles half the code that the whole CLI is, and its code cache
// shrinks alike (bench/start.sh measures it). The launcher picks the verb's
// body; main.body.cjs (every verb, loaded by name) serves the rest, such as
// `skiff --help`.
const { COMMANDS } = await import(pathToFileURL(join(pkg, 'dist/runtime/cli/registry.js')).href);
const verbs = Object.keys(COMMANDS);
const cliDir = join(pkg, 'dist/runtime/cli');
const verbEntries = {
  name: 'verb-entries',
  setup(b) {
    b.onResolve({ filter: /^verb-entry:/ }, (args) => ({ path: args.path.slice('verb-entry:'.length), namespace: 'verb-entry' }));
    b.onLoad({ filter: /.*/, namespace: 'verb-entry' }, ({ path: verb }) => ({
      loader: 'js',
      resolveDir: cliDir,
      contents: `import { runCli } from './cli.js';
import * as command from './commands/${verb}.js';
runCli(process.argv.slice(2), async () => command);`,
    }));
  },
};

await build({
  entryPoints: {
    ...Object.fromEntries(Object.entries(launched).map(([name, src]) => [`${name}.body`, join(pkg, src)])),
    ...Object.fromEntries(Object.entries(direct).map(([name, src]) => [name, join(pkg, src)])),
    ...Object.fromEntries(verbs.map((verb) => [`main-${verb}.body`, `verb-entry:${verb}`])),
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'], // a native addon: loaded from node_modules at run time
  plugins: [lazyBuiltins, verbEntries],
  outdir: out,
  outExtension: { '.js': '.cjs' },
  // import.meta.url is made on first use: pathToFileURL costs ~0.6 ms, and
  // only the package root lookup and the yargs fallback ask for it.
  define: { __SKIFF_BUNDLE__: 'true', 'import.meta.url': '__import_meta.url' },
  banner: { js: "const __import_meta={get url(){return require('node:url').pathToFileURL(__filename).href}};" },
  logLevel: 'warning',
  // No comments or indentation: ps reads and compiles ~40% fewer bytes (~2 ms).
  minifyWhitespace: true,
});

// main.ts starts with a hashbang, which esbuild keeps; it belongs to the launcher only.
for (const name of [...Object.keys(launched), ...verbs.map((verb) => `main-${verb}`)]) {
  const body = join(out, `${name}.body.cjs`);
  writeFileSync(body, readFileSync(body, 'utf8').replace(/^#!.*\n/, ''));
  chmodSync(body, 0o644);
}

// The launcher: compile BODY with the cache, then run it as the module it is.
// The CLI keeps one cache per verb: V8 caches the functions compiled until
// the cache is made, and each verb compiles its own. A verb's first run
// writes its cache at exit (atomically: concurrent runs may race); filling
// it at build time with, say, `VERB --help` would cache the wrong functions
// for good. The build fills only cache/main.v8, for main.body.cjs.
//
// The hashbang moves NODE_EXTRA_CA_CERTS out of Node's way: Node 20 reads that
// file and builds its whole root store at every start, before any JavaScript
// runs (90 ms here; nodejs/node#40524). The registry client reads it from
// SKIFF_NODE_EXTRA_CA_CERTS when it first makes a TLS connection
// (runtime/registry/trust.ts). env -S expands \${...} before -u takes effect.
const launcher = (name, perVerb) => `#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS SKIFF_NODE_EXTRA_CA_CERTS=\${NODE_EXTRA_CA_CERTS} node --
'use strict';
// Generated by tools/bundle.mjs: runs ${name}.body.cjs from V8's code cache (see there why).
const { mkdirSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
// The CommonJS loader's own class: require('node:module') would load the ESM loader too (~1 ms).
const Module = module.constructor;
const { Script } = require('node:vm');
const cacheDir = join(__dirname, 'cache');
const verb = ${perVerb ? "/^[a-z]+$/.test(process.argv[2] || '') ? process.argv[2] : ''" : "''"};
const read = (f, enc) => { try { return readFileSync(f, enc); } catch { return undefined; } };
// The verb's own body if it has one, else the body with every verb.
let file = join(__dirname, \`${name}-\${verb}.body.cjs\`);
let source = verb ? read(file, 'utf8') : undefined;
const shared = source === undefined;
if (shared) source = readFileSync((file = join(__dirname, '${name}.body.cjs')), 'utf8');
const cacheFile = join(cacheDir, verb ? \`${name}-\${verb}.v8\` : '${name}.v8');
const own = read(cacheFile);
const cachedData = own || (verb && shared ? read(join(cacheDir, '${name}.v8')) : undefined);
const script = new Script(Module.wrap(source), { filename: file, cachedData });
if (!own || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      mkdirSync(cacheDir, { recursive: true });
      const tmp = \`\${cacheFile}.\${process.pid}\`;
      writeFileSync(tmp, script.createCachedData());
      renameSync(tmp, cacheFile);
    } catch {}
  });
}
const body = new Module(file, module);
body.filename = file;
body.paths = Module._nodeModulePaths(__dirname);
script.runInThisContext().call(body.exports, body.exports, Module.createRequire(file), body, file, __dirname);
`;
for (const name of Object.keys(launched)) {
  const file = join(out, `${name}.cjs`);
  writeFileSync(file, launcher(name, name === 'main'));
  chmodSync(file, 0o755);
}

// Fill main.body.cjs's cache (skiff --version, --help, or a verb without a body of its own).
execFileSync(process.execPath, [join(out, 'main.cjs'), '--version'], { stdio: 'ignore' });
