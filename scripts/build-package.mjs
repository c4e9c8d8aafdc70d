// Builds the package's dist/: compiled ESM JavaScript and .d.ts from the
// TypeScript sources (tsconfig.build.json: lib/ and the construct's entries),
// plus the emulator launchers (plain .cjs files tsc does not copy).
// Run by `npm run build` and before `npm pack` (prepack).
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(join(root, 'dist'), { recursive: true, force: true });
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (r.status !== 0) process.exit(r.status ?? 1);
cpSync(join(root, 'lib/local-aws/servers'), join(root, 'dist/lib/local-aws/servers'), {
  recursive: true,
});
