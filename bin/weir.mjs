#!/usr/bin/env node
// Runs the TypeScript CLI through tsx's loader (weir runs from source).
import { register } from 'tsx/esm/api';

register();
await import('../lib/cli/bin.ts');
