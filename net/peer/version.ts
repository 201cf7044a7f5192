// packetlab's own version, for the control channel's hello and welcome and for beacons.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../paths.js';

let cached: string | null = null;

/** packetlab's version from package.json ('unknown' when it cannot be read). */
export function packetlabVersion(): string {
  if (cached !== null) return cached;
  try {
    cached = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    cached = 'unknown';
  }
  return cached;
}
