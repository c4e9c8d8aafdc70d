/**
 * Lambda entry points of the click-counter operator (thin: the pipeline is in
 * pipeline.ts, the runtime in lib/runtime). Configuration is read once per
 * cold start from the variables the WeirOperator construct sets.
 */
import { lambdaConfigFromEnv } from '../../lib/runtime/lambda/config.ts';
import { createLambdaHandlers } from '../../lib/runtime/lambda/handlers.ts';
import { checkpointerEntry } from '../../lib/runtime/lambda/checkpointer.ts';
import { clickCounter } from './pipeline.ts';

const handlers = createLambdaHandlers(clickCounter, lambdaConfigFromEnv(process.env));

/** Kinesis event source mapping handler (ReportBatchItemFailures). */
export const handler = handlers.handler;

/** EventBridge-scheduled ticker: idleness, firing, outbox re-drive, purge. */
export const ticker = handlers.ticker;

/** EventBridge-scheduled checkpoint function: takes, continues and retains S3 checkpoints. */
export const checkpointer = checkpointerEntry(clickCounter, process.env);
