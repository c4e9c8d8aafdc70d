// Child process: runs kinesalite on loopback and prints its port as JSON.
// Exits when its parent goes away (stdin closes), so no orphan survives a
// crashed test run.
'use strict';
const kinesalite = require('kinesalite');
const port = Number(process.env.WEIR_PORT || 0);
const server = kinesalite({
  createStreamMs: Number(process.env.WEIR_KINESIS_CREATE_MS || 0),
  deleteStreamMs: Number(process.env.WEIR_KINESIS_DELETE_MS || 0),
  updateStreamMs: Number(process.env.WEIR_KINESIS_UPDATE_MS || 0),
  shardLimit: Number(process.env.WEIR_KINESIS_SHARD_LIMIT || 50),
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ ready: true, port: server.address().port }) + '\n');
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
