// Child process: spawns a command (argv after this script) and kills it when
// this process's stdin closes, i.e. when the weir process that started it
// exits, however it exits. Used for DynamoDB Local, which is a JVM and cannot
// watch its parent itself.
'use strict';
const { spawn } = require('node:child_process');
const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  if (child.exitCode !== null || child.signalCode !== null) process.exit(0);
  // Wait for the child to be reaped so no zombie is left behind.
  setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  child.kill('SIGTERM');
};
child.on('exit', (code, signal) => {
  if (stopping) process.exit(0);
  process.stderr.write(`supervised process exited (code ${code}, signal ${signal})\n`);
  process.exit(code === null ? 1 : code);
});
child.on('error', (err) => {
  process.stderr.write(`cannot start ${cmd}: ${err.message}\n`);
  process.exit(127);
});
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
