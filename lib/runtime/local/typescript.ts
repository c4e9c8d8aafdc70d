/**
 * TypeScript sources in a local run, from a checkout or from the installed
 * package alike: tsx is resolved from weir's own install (it is a dependency
 * of weir), never from the working directory of the process that needs it.
 *
 *     weir from source (.ts)  ── a TypeScript loader is already active ──▶ nothing to do
 *     weir compiled (.js)     ── a .ts pipeline / handler ──▶ tsx's loader, from weir's node_modules
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { WeirError } from '../../errors.ts';

const TYPESCRIPT_FILE = /\.(?:[cm]?ts|tsx)$/;

/** True for `.ts`, `.mts`, `.cts` and `.tsx` files (an optional `#export` suffix is ignored). */
export function isTypeScriptFile(file: string): boolean {
  const hash = file.lastIndexOf('#');
  return TYPESCRIPT_FILE.test(hash >= 0 ? file.slice(0, hash) : file);
}

/** True when this module runs from its TypeScript source (a TypeScript loader is active). */
export function runningFromSource(): boolean {
  return isTypeScriptFile(new URL(import.meta.url).pathname);
}

/**
 * The `file:` URL of tsx's loader as weir's own install resolves it, for
 * `node --import <url>`.
 *
 * @example
 * fork(worker, [], { execArgv: ['--import', tsxLoaderUrl()] });
 */
export function tsxLoaderUrl(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch (err) {
    throw new TypeScriptLoaderError(err);
  }
}

let registered: Promise<void> | undefined;

// Not a literal in the import() below: a bundler packing a Lambda handler that
// imports weir must not pull tsx (a local-only tool) into the bundle.
const TSX_API: string = 'tsx/esm/api';

/**
 * Makes `import()` of TypeScript files work in this process: registers tsx's
 * loader once, unless weir itself runs from source (a loader is active then).
 *
 * @example
 * if (isTypeScriptFile(file)) await enableTypeScriptImports();
 * const mod = await import(pathToFileURL(file).href);
 */
export function enableTypeScriptImports(): Promise<void> {
  if (runningFromSource()) return Promise.resolve();
  registered ??= (import(TSX_API) as Promise<typeof import('tsx/esm/api')>).then(
    (tsx) => void tsx.register(),
    (err: unknown) => {
      throw new TypeScriptLoaderError(err);
    },
  );
  return registered;
}

/** tsx cannot be found or loaded. */
export class TypeScriptLoaderError extends WeirError {
  constructor(cause: unknown) {
    super(
      `cannot load tsx, which weir uses to run TypeScript pipelines and handlers (${cause instanceof Error ? cause.message : String(cause)}); reinstall weir (tsx is one of its dependencies), or compile the file to JavaScript and point weir at the .js file`,
      { cause },
    );
  }
}
