/**
 * `weir produce` run in-process with a fake CLI context against the embedded
 * Kinesis.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { produceCommand, PRODUCE_EXIT } from '../../lib/cli/produce.ts';
import type { CliContext } from '../../lib/cli/command.ts';
import { createStreamAndWait, deaggregate, readWholeStream } from '../../lib/kinesis/index.ts';
import { uniqueName, useLocalAws } from '../helpers/local-aws.ts';

const fx = useLocalAws();
const dir = mkdtempSync(join(tmpdir(), 'weir-produce-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function runProduce(
  args: readonly string[],
  stdin = '',
  signal = new AbortController().signal,
  stderrIsTty = false,
): Promise<Run> {
  const out = new PassThrough();
  const err = Object.assign(new PassThrough(), { isTTY: stderrIsTty });
  let stdout = '';
  let stderr = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  const ctx: CliContext = {
    env: fx.aws.env(),
    stdin: Readable.from([Buffer.from(stdin)]),
    stdout: out,
    stderr: err,
    cwd: dir,
    signal,
  };
  const code = await produceCommand.run(args, ctx);
  return { code, stdout, stderr };
}

const lines = (n: number, from = 0): string =>
  Array.from({ length: n }, (_, i) =>
    JSON.stringify({ id: from + i, user: { id: `u${(from + i) % 5}` } }),
  ).join('\n') + '\n';

describe('weir produce', () => {
  it('GIVEN NDJSON on stdin and --partition-key-field WHEN run THEN every line is a record keyed by the field', async () => {
    const stream = uniqueName('cli');
    await createStreamAndWait(fx.clients.kinesis, stream, 2);
    const r = await runProduce(
      ['--stream', stream, '--partition-key-field', 'user.id'],
      lines(250),
    );
    expect(r.code).toBe(PRODUCE_EXIT.OK);
    expect(r.stdout).toMatch(
      new RegExp(
        `^produced 250 records to ${stream} in [0-9.]+ s \\(250 Kinesis records, 1 requests, 0 retried entries, 0 retried requests\\)\\nper shard: shardId-`,
      ),
    );
    const stored = await readWholeStream(fx.clients.kinesis, stream);
    expect(stored).toHaveLength(250);
    for (const s of stored) {
      const v = JSON.parse(Buffer.from(s.data).toString()) as { user: { id: string } };
      expect(s.partitionKey).toBe(v.user.id);
    }
  });

  it('GIVEN --file and --aggregate WHEN run THEN the records arrive as KPL aggregates with random keys', async () => {
    const stream = uniqueName('cli-agg');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    writeFileSync(join(dir, 'events.ndjson'), lines(1000));
    const r = await runProduce([
      '--stream',
      stream,
      '--file',
      'events.ndjson',
      '--aggregate',
      '--rate',
      '5000',
    ]);
    expect(r.code).toBe(PRODUCE_EXIT.OK);
    const raw = await readWholeStream(fx.clients.kinesis, stream);
    const users = raw.flatMap((x) => deaggregate(x));
    expect(
      users.map((u) => (JSON.parse(Buffer.from(u.data).toString()) as { id: number }).id),
    ).toEqual([...Array(1000).keys()]);
    expect(new Set(users.map((u) => u.partitionKey)).size).toBe(1000);
    expect(r.stdout).toMatch(/\(\d Kinesis records,/);
  });

  it('GIVEN a TTY on stderr WHEN a rate-limited run takes a while THEN progress is one line rewritten with \\r', async () => {
    const stream = uniqueName('cli-tty');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    const r = await runProduce(['--stream', stream, '--rate', '400'], lines(600), undefined, true);
    expect(r.code).toBe(PRODUCE_EXIT.OK);
    expect(r.stderr).toMatch(
      /^\rproduce: \d+ records sent, \d+\/s, 0 retried entries, \d+ requests/,
    );
    expect(r.stderr).toContain('requests\u001b[K'); // erase to end of line
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.split('\n')).toHaveLength(2);
  });

  it('GIVEN a bad line WHEN run THEN exit 65 names the line, and the lines before it are stored', async () => {
    const stream = uniqueName('cli-bad');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    const input = lines(3) + '{"id": oops}\n' + lines(3, 10);
    const r = await runProduce(['--stream', stream], input);
    expect(r.code).toBe(PRODUCE_EXIT.BAD_INPUT);
    expect(r.stderr).toMatch(/^weir produce: line 4: is not valid JSON/);
    expect(r.stderr).toContain('Use --skip-invalid');
    expect(await readWholeStream(fx.clients.kinesis, stream)).toHaveLength(3);

    const skip = await runProduce(['--stream', stream, '--skip-invalid'], input);
    expect(skip.code).toBe(PRODUCE_EXIT.OK);
    expect(skip.stderr).toContain('weir produce: skipped line 4: is not valid JSON');
    expect(skip.stdout).toContain('1 invalid lines skipped');
    expect(await readWholeStream(fx.clients.kinesis, stream)).toHaveLength(9);
  });

  it('GIVEN a missing partition key field WHEN run THEN exit 65 names the line and the field', async () => {
    const stream = uniqueName('cli-key');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    const r = await runProduce(
      ['--stream', stream, '--partition-key-field', 'user.id'],
      lines(2) + '{"id":9}\n',
    );
    expect(r.code).toBe(PRODUCE_EXIT.BAD_INPUT);
    expect(r.stderr).toContain('line 3: field "user.id" is missing or not a string or number');
    expect(await readWholeStream(fx.clients.kinesis, stream)).toHaveLength(2);
  });

  it('GIVEN an oversized line WHEN run THEN exit 65 with its line number', async () => {
    const stream = uniqueName('cli-big');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    const big = JSON.stringify({ id: 'big', pad: 'x'.repeat(1024 * 1024) });
    const r = await runProduce(['--stream', stream], `${lines(1)}\n${big}\n${lines(1)}`);
    expect(r.code).toBe(PRODUCE_EXIT.BAD_INPUT);
    expect(r.stderr).toMatch(
      /line 3: Record 1 is \d+ bytes \(data \+ partition key\); Kinesis accepts at most 1048576/,
    );
    expect(await readWholeStream(fx.clients.kinesis, stream)).toHaveLength(1);
  });

  it('exits 2 on usage errors and 1 when the stream does not exist', async () => {
    const noStream = await runProduce([]);
    expect(noStream.code).toBe(PRODUCE_EXIT.USAGE);
    expect(noStream.stderr).toContain('--stream is required');
    const both = await runProduce([
      '--stream',
      's',
      '--partition-key-field',
      'a',
      '--random-partition-key',
    ]);
    expect(both.code).toBe(PRODUCE_EXIT.USAGE);
    const badRate = await runProduce(['--stream', 's', '--rate', 'fast']);
    expect(badRate.stderr).toContain('--rate must be a positive number (given "fast")');
    const unknown = await runProduce(['--stream', 's', '--bogus']);
    expect(unknown.code).toBe(PRODUCE_EXIT.USAGE);
    const missing = await runProduce(['--stream', uniqueName('absent')], lines(2));
    expect(missing.code).toBe(PRODUCE_EXIT.SEND_FAILED);
    expect(missing.stderr).toContain('ResourceNotFoundException');
    const noFile = await runProduce(['--stream', 's', '--file', 'does-not-exist.ndjson']);
    expect(noFile.code).toBe(PRODUCE_EXIT.USAGE);
    expect(noFile.stderr).toContain('ENOENT');
    const help = await runProduce(['--help']);
    expect(help.code).toBe(PRODUCE_EXIT.OK);
    expect(help.stdout).toContain('Usage: weir produce --stream NAME');
  });

  it('GIVEN an aborted signal WHEN run THEN exit 130', async () => {
    const stream = uniqueName('cli-abort');
    await createStreamAndWait(fx.clients.kinesis, stream, 1);
    const ac = new AbortController();
    ac.abort();
    const r = await runProduce(['--stream', stream], lines(10), ac.signal);
    expect(r.code).toBe(PRODUCE_EXIT.INTERRUPTED);
    expect(r.stderr).toContain('interrupted');
  });
});
