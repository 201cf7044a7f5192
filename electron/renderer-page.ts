// Where the built renderer is, seen from the compiled main (dist/electron/main.js), and what its
// page declares.

import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Paths and URLs of the desktop app's files, from the URL of the compiled main module. */
export function appFiles(mainUrl: string): { preloadPath: string; rendererDir: string; rendererDirUrl: string; indexPath: string; indexUrl: string } {
  const here = dirname(fileURLToPath(mainUrl));
  const rendererDir = join(here, '..', 'renderer');
  const indexPath = join(rendererDir, 'index.html');
  return {
    preloadPath: join(here, 'preload.cjs'),
    rendererDir,
    rendererDirUrl: pathToFileURL(rendererDir + '/').href,
    indexPath,
    indexUrl: pathToFileURL(indexPath).href,
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
