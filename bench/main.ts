// `npm run bench [suite ...]`: prints figures beside baselines measured in the same run.
// Suites: each adds one entry below.

import { benchSimulator } from './sim.js';
import { benchTransport } from './transport.js';
import { benchCapture } from './capture.js';
import { benchRpc } from './rpc.js';
import { benchUi } from './ui.js';
import { benchCrc } from './crc.js';
import { benchHostile } from './hostile.js';

const SUITES: Record<string, () => Promise<void>> = {
  sim: benchSimulator,
  transport: benchTransport,
  capture: benchCapture,
  rpc: benchRpc,
  ui: benchUi,
  crc: benchCrc,
  hostile: benchHostile,
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(w in SUITES));
if (unknown.length > 0) {
  console.error(`bench: unknown suite ${unknown.join(', ')}; suites: ${Object.keys(SUITES).join(', ')}`);
  process.exit(2);
}
console.log(`Packet Lab benchmarks, Node ${process.version}, ${new Date().toISOString()}`);
for (const [name, run] of Object.entries(SUITES)) {
  if (wanted.length === 0 || wanted.includes(name)) await run();
}
