/**
 * What `weir dev` reads before it starts anything: the pipeline module (its
 * pipeline export), the handler beside it, the project root, a synthesized
 * template, and the default ticker cadence. Each failure is a
 * {@link DevSetupError} naming the file and the fix.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { WindowedOperatorDefinition } from '../core/pipeline.ts';
import { WeirError, describeError } from '../errors.ts';
import type { CfnTemplate } from '../runtime/local/index.ts';
import { enableTypeScriptImports, isTypeScriptFile } from '../runtime/local/typescript.ts';

/** `weir dev` cannot run: the pipeline file, the handler or the stack is not usable. */
export class DevSetupError extends WeirError {}

/** Tick intervals the construct accepts under its default `rate(1 minute)`: whole seconds dividing a minute. */
const MINUTE_DIVISORS_S = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60];

/** The deployed cadence for a pipeline: the largest allowed interval not above its idleTimeout. */
export function defaultTickIntervalMs(idleTimeout: number | undefined): number {
  if (idleTimeout === undefined) return 60_000;
  const fits = MINUTE_DIVISORS_S.filter((s) => s * 1000 <= idleTimeout);
  return (fits.at(-1) ?? 1) * 1000;
}

export type AnyDefinition = WindowedOperatorDefinition<unknown, unknown, unknown>;

function isDefinition(v: unknown): v is AnyDefinition {
  if (typeof v !== 'object' || v === null) return false;
  const d = v as Partial<Record<keyof AnyDefinition, unknown>>;
  return (
    typeof d.name === 'string' &&
    typeof d.time === 'object' &&
    typeof d.assigner === 'object' &&
    typeof d.aggregate === 'object'
  );
}

/** Imports the pipeline file (TypeScript through tsx) and picks its pipeline export. */
export async function loadPipeline(
  file: string,
  exportName: string | undefined,
): Promise<AnyDefinition> {
  if (!existsSync(file)) throw new DevSetupError(`pipeline file ${file} does not exist`);
  if (isTypeScriptFile(file)) await enableTypeScriptImports();
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  if (exportName !== undefined) {
    const v = mod[exportName];
    if (!isDefinition(v)) {
      throw new DevSetupError(
        `${file} exports no pipeline named ${JSON.stringify(exportName)} (a pipeline(...)...aggregate(...) definition)`,
      );
    }
    return v;
  }
  const found = Object.entries(mod).filter(([, v]) => isDefinition(v));
  if (found.length !== 1) {
    throw new DevSetupError(
      found.length === 0
        ? `${file} exports no pipeline (a pipeline(...)...aggregate(...) definition)`
        : `${file} exports ${found.length} pipelines (${found.map(([k]) => k).join(', ')}); choose one with --export`,
    );
  }
  return found[0]![1] as AnyDefinition;
}

const HANDLER_NAMES = ['handler.ts', 'handler.mts', 'handler.js', 'handler.mjs'];

export function findEntry(pipelineFile: string, cwd: string, given: string | undefined): string {
  if (given !== undefined) {
    const entry = resolve(cwd, given);
    if (!existsSync(entry)) throw new DevSetupError(`handler module ${entry} does not exist`);
    return entry;
  }
  const dir = dirname(pipelineFile);
  const entry = HANDLER_NAMES.map((n) => join(dir, n)).find((f) => existsSync(f));
  if (entry === undefined) {
    throw new DevSetupError(
      `no handler module beside ${basename(pipelineFile)} (looked for ${HANDLER_NAMES.join(', ')} in ${dir}); name it with --entry`,
    );
  }
  return entry;
}

export function findProjectRoot(pipelineFile: string): string {
  for (let dir = dirname(pipelineFile); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) {
      throw new DevSetupError(
        `no package.json in ${dirname(pipelineFile)} or above; name the project root with --project-root`,
      );
    }
  }
}

export function readTemplate(file: string): CfnTemplate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DevSetupError(`cannot read the template ${file}: ${describeError(err)}`);
  }
  try {
    return JSON.parse(text) as CfnTemplate;
  } catch (err) {
    throw new DevSetupError(
      `${file} is not a synthesized CloudFormation template (JSON): ${describeError(err)}`,
    );
  }
}

/** The one mapping or ticker of the template that runs the pipeline's operator. */
export function ofOperator<T extends { readonly operatorName: string | undefined }>(
  items: readonly T[],
  operator: string,
  what: string,
): T {
  const mine = items.filter((i) => i.operatorName === operator);
  if (mine.length === 1) return mine[0]!;
  const operators = [...new Set(items.map((i) => i.operatorName ?? '(none)'))];
  throw new DevSetupError(
    mine.length === 0
      ? `the template has no ${what} of operator ${operator} (its ${what}s run: ${operators.join(', ') || 'none'}); is it the stack of this pipeline?`
      : `the template has ${mine.length} ${what}s of operator ${operator}; weir dev runs one`,
  );
}
