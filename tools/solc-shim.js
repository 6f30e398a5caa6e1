#!/usr/bin/env node
// solc CLI shim over solc-js, so Foundry's forge can compile fully offline.
//
// forge invokes `solc --version` and `solc --standard-json [--allow-paths ..]
// [--base-path ..] [--include-path ..]` with the Standard JSON input on stdin.
// We answer both with the solc-js (emscripten) compiler pinned in package.json.
// Output is written with a synchronous write: forge reads until EOF and a
// process.stdout.write() of a multi-megabyte string to a pipe may be cut off
// when node exits.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const solc = require(path.join(root, 'node_modules', 'solc'));

function writeAll(fd, text) {
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off, buf.length - off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

function parseArgs(argv) {
  const opts = { standardJson: false, version: false, basePath: null, includePaths: [], allowPaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const take = () => argv[++i];
    if (a === '--version') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a === '--base-path') opts.basePath = take();
    else if (a.startsWith('--base-path=')) opts.basePath = a.slice(12);
    else if (a === '--include-path') opts.includePaths.push(take());
    else if (a.startsWith('--include-path=')) opts.includePaths.push(a.slice(15));
    else if (a === '--allow-paths') opts.allowPaths.push(...take().split(','));
    else if (a.startsWith('--allow-paths=')) opts.allowPaths.push(...a.slice(14).split(','));
  }
  return opts;
}

function makeResolver(opts) {
  const bases = [];
  if (opts.basePath) bases.push(path.resolve(opts.basePath));
  bases.push(process.cwd());
  for (const p of opts.includePaths) bases.push(path.resolve(p));
  bases.push(path.join(root, 'node_modules'));
  return function findImports(importPath) {
    const candidates = path.isAbsolute(importPath) ? [importPath] : bases.map((b) => path.join(b, importPath));
    for (const c of candidates) {
      try {
        return { contents: fs.readFileSync(c, 'utf8') };
      } catch (_) { /* try next */ }
    }
    return { error: `File not found: ${importPath} (searched ${bases.join(', ')})` };
  };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    writeAll(1, `solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return 0;
  }
  if (!opts.standardJson) {
    writeAll(2, 'solc-shim: only --version and --standard-json are supported\n');
    return 2;
  }
  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: makeResolver(opts) });
  writeAll(1, output);
  return 0;
}

process.exitCode = main();
