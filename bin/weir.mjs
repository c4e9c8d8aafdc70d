#!/usr/bin/env node
// The `weir` command. From a checkout (the TypeScript sources are there) it
// runs them through tsx; from the installed package it runs the compiled
// JavaScript in dist/, no TypeScript tooling needed.
import { existsSync } from 'node:fs';

const source = new URL('../cdk/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cdk/cli.js');
}
