/**
 * Where a function's sources and lock file are, decided once at synth and
 * independent of the working directory: `NodejsFunction` otherwise looks for
 * a lock file above `process.cwd()`, so `cdk synth` from another folder fails
 * with CannotFindPackageLockFile, and a project root it did not find itself
 * ends in PathNotUnderRoot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../lib/errors.ts';

/** Lock files `NodejsFunction` understands, in the order they are looked for. */
export const LOCK_FILE_NAMES = [
  'package-lock.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lockb',
  'bun.lock',
] as const;

/** What the construct hands to `NodejsFunction`, all absolute. */
export interface ProjectFiles {
  /** The handler's source file. */
  readonly entry: string;
  /** The project root: bundling runs here, and `weir:entry` is recorded relative to it. */
  readonly projectRoot: string;
  /** The lock file whose dependencies the bundle was tested with. */
  readonly depsLockFilePath: string;
  /** `entry` relative to `projectRoot`, with `/` separators (the `weir:entry` metadata). */
  readonly entryPath: string;
}

/** What the user gave (see `WeirOperatorProps`). */
export interface ProjectFilesInput {
  readonly entry: string;
  readonly projectRoot?: string;
  readonly depsLockFilePath?: string;
}

/**
 * Resolves entry, project root and lock file:
 *
 * - `projectRoot` given: a relative `entry` is relative to it; the lock file
 *   is the first one found in `projectRoot` or above (a workspace root).
 * - not given: `entry` is absolute or relative to the working directory; the
 *   project root is the folder of the first lock file above the entry
 *   (NodejsFunction's own default, but found from the entry, not the cwd).
 *
 * @example
 * resolveProjectFiles({ entry: 'functions/op/handler.ts', projectRoot: '/repo' });
 * // { entry: '/repo/functions/op/handler.ts', projectRoot: '/repo', depsLockFilePath: '/repo/package-lock.json', ... }
 */
export function resolveProjectFiles(input: ProjectFilesInput): ProjectFiles {
  const givenRoot = input.projectRoot === undefined ? undefined : path.resolve(input.projectRoot);
  const entry = path.isAbsolute(input.entry)
    ? input.entry
    : path.resolve(givenRoot ?? process.cwd(), input.entry);
  const lockFile =
    input.depsLockFilePath !== undefined
      ? path.resolve(givenRoot ?? process.cwd(), input.depsLockFilePath)
      : findLockFile(givenRoot ?? path.dirname(entry));
  if (lockFile === undefined) {
    throw new ConfigError(
      'depsLockFilePath',
      undefined,
      `must name the project's lock file (one of ${LOCK_FILE_NAMES.join(', ')}); none was found in ${givenRoot ?? path.dirname(entry)} or above`,
    );
  }
  if (!fs.existsSync(lockFile)) {
    throw new ConfigError('depsLockFilePath', lockFile, 'must be an existing lock file');
  }
  const projectRoot = givenRoot ?? path.dirname(lockFile);
  const entryPath = path.relative(projectRoot, entry);
  if (entryPath.startsWith('..') || path.isAbsolute(entryPath)) {
    throw new ConfigError(
      'entry',
      entry,
      `must be inside projectRoot ${projectRoot} (bundling runs there and the local runtime finds the handler relative to it)`,
    );
  }
  return {
    entry,
    projectRoot,
    depsLockFilePath: lockFile,
    entryPath: entryPath.split(path.sep).join('/'),
  };
}

function findLockFile(from: string): string | undefined {
  let dir = from;
  for (;;) {
    for (const name of LOCK_FILE_NAMES) {
      const candidate = path.join(dir, name);
      if (fs.existsSync(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
