// Where the desktop app's files are, seen from the compiled main (dist/electron/main.js), and what
// its page declares. Paths only: the page itself is reached through the packetlab: scheme
// (app-protocol.ts), never through a file: URL.

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The app's files: the preload, the built renderer, the window icon and the Wireshark dissector. */
export interface AppFiles {
  preloadPath: string;
  rendererDir: string;
  indexPath: string;
  iconPath: string;
  dissectorPath: string;
}

/**
 * The app's files, from the URL of the compiled main module. A packaged app has its icon and
 * dissector in the resources folder (electron-builder's extraResources, where users can reach
 * the dissector); a clone has them in build/ and tools/wireshark/.
 */
export function appFiles(mainUrl: string, packed: { resourcesPath: string } | null = null): AppFiles {
  const here = dirname(fileURLToPath(mainUrl));
  const root = join(here, '..', '..');
  const rendererDir = join(here, '..', 'renderer');
  return {
    preloadPath: join(here, 'preload.cjs'),
    rendererDir,
    indexPath: join(rendererDir, 'index.html'),
    iconPath: packed === null ? join(root, 'build', 'icon.png') : join(packed.resourcesPath, 'icon.png'),
    dissectorPath: packed === null ? join(root, 'tools', 'wireshark', 'packetlab.lua') : join(packed.resourcesPath, 'wireshark', 'packetlab.lua'),
  };
}

/** The policy of the page's `<meta http-equiv="Content-Security-Policy">`, or null. */
export function metaContentSecurityPolicy(html: string): string | null {
  for (const m of html.matchAll(/<meta\b[^>]*>/gi)) {
    const tag = m[0];
    if (!/http-equiv\s*=\s*["']?content-security-policy["']?/i.test(tag)) continue;
    const content = /content\s*=\s*"([^"]*)"|content\s*=\s*'([^']*)'/i.exec(tag);
    if (content !== null) return (content[1] ?? content[2] ?? '').replace(/&#39;|&apos;/g, "'").replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  }
  return null;
}
