/**
 * The embedded AWS leaves no emulator behind when the process that started it
 * dies without cleaning up (SIGKILL), as a crashed test run would.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('../fixtures/start-local-aws-and-wait.ts', import.meta.url));

function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect({ host: hostname, port: Number(port) });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

describe.runIf(!process.env['AWS_ENDPOINT_URL'])('embedded AWS lifecycle', () => {
  it('stops every emulator when its parent is killed with SIGKILL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const endpoints = await new Promise<Record<string, string>>((resolve, reject) => {
      let buf = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (c: string) => {
        buf += c;
        const nl = buf.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as Record<string, string>);
      });
      child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
    });
    const urls = Object.values(endpoints);
    expect(urls).toHaveLength(3);
    for (const url of urls) expect(await accepts(url)).toBe(true);

    child.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    let open = urls;
    while (open.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const still = await Promise.all(open.map(async (u) => ((await accepts(u)) ? u : undefined)));
      open = still.filter((u): u is string => u !== undefined);
    }
    expect(open).toEqual([]);
  });
});
