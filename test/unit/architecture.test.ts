/**
 * Folder dependencies run one way (README.md, "Layout"; docs/architecture.md).
 * Reads the imports of every .ts file under lib/ and bench/ (static, type-only,
 * re-exports and dynamic `import()`), resolves the relative ones to folders,
 * and fails on an edge the table below does not allow, on lib/ importing an
 * application folder (cdk/, functions/, test/, bench/, examples/), and on any
 * cycle between folders. ESLint keeps its own rule for the core's purity (no
 * AWS SDK, no node:*, no clock, no environment).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The folders of lib/ (and its two root files), bottom to top. */
const LIB = [
  'errors',
  'util',
  'model',
  'ports',
  'core',
  'adapters',
  'kinesis',
  'local-aws',
  'runtime',
  'testing',
  'cli',
  'index',
] as const;
type LibFolder = (typeof LIB)[number];

/** Folders outside lib/: the applications of the library. lib/ never imports them. */
const APPLICATION = ['cdk', 'functions', 'test', 'bench', 'examples', 'scripts'];

const allBut = (...not: string[]): string[] => LIB.filter((f) => !not.includes(f));

/**
 * What each folder may import (besides itself). Every folder imports only
 * folders listed before it in LIB, except testing and cli (everything in
 * lib but each other) and index (everything); the cycle check below catches
 * a cycle through index.
 *
 * One refinement of the lead's table: local-aws may import adapters. The
 * embedded AWS hands out SDK clients built by the one client factory
 * (adapters/aws-clients.ts), so local and deployed clients are configured
 * alike; adapters never import local-aws, so no cycle.
 */
const ALLOWED: Readonly<Record<LibFolder | 'bench', readonly string[]>> = {
  errors: [],
  util: ['errors'],
  model: ['errors', 'util'],
  ports: ['model', 'errors', 'util'],
  core: ['model', 'ports', 'errors', 'util'],
  adapters: ['model', 'ports', 'errors', 'util'],
  kinesis: ['model', 'adapters', 'errors', 'util'],
  'local-aws': ['adapters', 'errors', 'util'],
  runtime: ['core', 'ports', 'adapters', 'model', 'kinesis', 'local-aws', 'errors', 'util'],
  testing: allBut('testing', 'cli'),
  cli: allBut('cli', 'testing'),
  index: allBut('index'),
  // An application of the library, as examples/ is: lib (not the CLI) and the application folders.
  bench: [...allBut('cli'), 'cdk', 'examples', 'functions', 'test'],
};

/**
 * Known violations. Empty: lib/demo became examples/click-counter and the
 * template reader no longer synthesizes cdk/ stacks. Nothing may be added:
 * fix the import instead. An entry that no longer matches any import fails
 * the test, so it cannot outlive its cause.
 */
const KNOWN_VIOLATIONS: readonly {
  /** Imports from or into files under this path (with `target`: from it only). */
  readonly involving: string;
  /** Only imports of files under this path. */
  readonly target?: string;
  readonly why: string;
}[] = [];

interface Edge {
  /** Importing file, relative to the repository root (with `/`). */
  readonly file: string;
  /** Imported file, relative to the repository root. */
  readonly target: string;
  readonly from: string;
  readonly to: string;
}

function posix(p: string): string {
  return p.split(sep).join('/');
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The folder a repository path belongs to: a lib folder, or a top-level folder. */
function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] !== 'lib') return parts[0] ?? path;
  const first = parts[1] ?? '';
  return parts.length === 2 ? first.replace(/\.ts$/, '') : first;
}

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const abs of [...tsFiles(join(ROOT, 'lib')), ...tsFiles(join(ROOT, 'bench'))]) {
    const file = posix(relative(ROOT, abs));
    const imports = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true).importedFiles;
    for (const { fileName } of imports) {
      if (!fileName.startsWith('.')) continue; // a package
      const target = posix(relative(ROOT, resolve(dirname(abs), fileName)));
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) out.push({ file, target, from, to });
    }
  }
  return out;
}

function matches(k: (typeof KNOWN_VIOLATIONS)[number], e: Edge): boolean {
  if (k.target !== undefined)
    return e.file.startsWith(k.involving) && e.target.startsWith(k.target);
  return e.file.startsWith(k.involving) || e.target.startsWith(k.involving);
}

function known(e: Edge): boolean {
  return KNOWN_VIOLATIONS.some((k) => matches(k, e));
}

/** Cycles between folders (strongly connected components of more than one folder). */
function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      for (;;) {
        const w = stack.pop() as string;
        on.delete(w);
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('architecture: folder dependencies run one way', () => {
  const all = edges();
  const checked = all.filter((e) => !known(e));

  it('reads imports from lib/ and bench/', () => {
    expect(all.some((e) => e.from === 'core' && e.to === 'model')).toBe(true);
    expect(all.some((e) => e.file.startsWith('bench/'))).toBe(true);
  });

  it('lib/ never imports an application folder (cdk/, functions/, test/, bench/, examples/)', () => {
    const bad = checked
      .filter((e) => e.file.startsWith('lib/') && APPLICATION.includes(e.to))
      .map((e) => `${e.file} -> ${e.target}`);
    expect(bad).toEqual([]);
  });

  it('every import between folders is one the table allows', () => {
    const bad = checked
      .filter((e) => !APPLICATION.includes(e.to) || e.from === 'bench')
      .filter((e) => {
        const allowed = (ALLOWED as Readonly<Record<string, readonly string[]>>)[e.from];
        return allowed === undefined || !allowed.includes(e.to);
      })
      .map((e) => `${e.from} -> ${e.to}: ${e.file} imports ${e.target}`);
    expect(bad).toEqual([]);
  });

  it('there is no cycle between folders', () => {
    const graph = new Map<string, Set<string>>();
    for (const e of checked) {
      let to = graph.get(e.from);
      if (to === undefined) graph.set(e.from, (to = new Set()));
      to.add(e.to);
    }
    expect(cycles(graph)).toEqual([]);
  });

  it('every known violation still exists (remove an entry once its cause is gone)', () => {
    const stale = KNOWN_VIOLATIONS.filter((k) => !all.some((e) => matches(k, e))).map((k) => k.why);
    expect(stale).toEqual([]);
  });

  it('finds a violation and a cycle when there is one', () => {
    const graph = new Map([
      ['core', new Set(['ports'])],
      ['ports', new Set(['core'])],
    ]);
    expect(cycles(graph)).toEqual([['core', 'ports']]);
    expect(ALLOWED.ports.includes('core')).toBe(false);
  });
});
