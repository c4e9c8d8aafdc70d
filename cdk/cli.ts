/**
 * Process entry of the `weir` command as shipped: the CLI (lib/cli) with the
 * construct wired in for `weir dev`, which synthesizes a `WeirOperator`
 * stack for the user's pipeline. aws-cdk-lib is loaded only when `weir dev`
 * runs, so the other commands work without it.
 */
import { runCli } from '../lib/cli/bin.ts';

await runCli({
  synthesizeDevStack: async (request) => {
    const { synthesizeDevTemplate } = await import('./dev-stack.ts');
    return synthesizeDevTemplate(request);
  },
});
