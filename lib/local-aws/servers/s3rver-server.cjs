// Child process: runs s3rver on loopback and prints its port as JSON.
// Exits when its parent goes away (stdin closes).
'use strict';
const S3rver = require('s3rver');
const port = Number(process.env.WEIR_PORT || 0);
const directory = process.env.WEIR_S3_DIR;
const server = new S3rver({ port, address: '127.0.0.1', silent: true, directory });
server.run().then(
  ({ port: p }) => process.stdout.write(JSON.stringify({ ready: true, port: p }) + '\n'),
  (err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
    process.exit(1);
  },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
