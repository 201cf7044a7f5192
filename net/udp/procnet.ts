// Per-socket kernel drop counters from /proc/net/udp and /proc/net/udp6 (Linux). The last column
// of each line counts datagrams the kernel dropped for that socket, mostly because its receive
// buffer was full: the "loss from full buffers" of the reference notes, made visible.

import { readFileSync } from 'node:fs';

/** Drops counted by the kernel for UDP sockets bound to `port` (summed), or NaN where unknown. */
export function udpSocketDrops(port: number): number {
  let found = false;
  let drops = 0;
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    for (let i = 1; i < lines.length; i++) {
      const cols = lines[i]!.trim().split(/\s+/);
      if (cols.length < 13) continue;
      const local = cols[1]!;
      const colon = local.lastIndexOf(':');
      if (colon < 0 || Number.parseInt(local.slice(colon + 1), 16) !== port) continue;
      found = true;
      drops += Number(cols[cols.length - 1]);
    }
  }
  return found ? drops : Number.NaN;
}
