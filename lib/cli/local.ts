/**
 * `weir local`: starts the embedded AWS and keeps it running, printing the
 * environment other shells need to reach it.
 */
import type { Command } from './command.ts';
import { parseCommandLine } from './flags.ts';
import { startLocalAws } from '../local-aws/index.ts';

export const localCommand: Command = {
  name: 'local',
  summary: 'start the embedded AWS (Kinesis, DynamoDB, S3) on loopback until Ctrl-C',
  usage: `Usage: weir local [-h|--help]

Starts kinesalite, DynamoDB Local (Java 17+) and s3rver on free loopback ports
and prints export lines; paste them into another shell (or eval them) to point
the AWS CLI, the SDK, weir produce and the tests at it. Stops on Ctrl-C.`,
  async run(args, ctx) {
    const line = parseCommandLine(this, args, ctx, {}, () => undefined);
    if (!line.ok) return line.exitCode;
    const aws = await startLocalAws();
    const { kinesisMs, dynamodbMs, s3Ms } = aws.startup;
    ctx.stderr.write(
      `embedded AWS up (kinesalite ${kinesisMs} ms, DynamoDB Local ${dynamodbMs} ms, s3rver ${s3Ms} ms); Ctrl-C stops it\n`,
    );
    for (const [k, v] of Object.entries(aws.env())) ctx.stdout.write(`export ${k}=${v}\n`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await aws.stop();
    ctx.stderr.write('embedded AWS stopped\n');
    return 0;
  },
};
