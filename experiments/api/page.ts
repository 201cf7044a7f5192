// The app's page as a set of files: which file a request names and the headers it is served with.
// `packetlab serve` (HTTP) and the desktop app (its packetlab: scheme) share these, so that the
// page gets the same Content-Security-Policy and the same refusal of paths outside the built
// renderer from both.

import path from 'node:path';

/** The page's Content-Security-Policy: its own scripts and styles only, no inline code, no frames. */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

/** The headers a page file is served with. */
export function pageHeaders(file: string): Record<string, string> {
  return {
    'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
}

/** The file a request names, or why there is none (400: the path is malformed; 404: not a page file). */
export type PageFile = { ok: true; path: string } | { ok: false; status: 400 | 404; why: string };

/** The path functions used: node:path's own, or path.win32 / path.posix to check another system's rules. */
export type PathApi = Pick<typeof path, 'join' | 'relative' | 'isAbsolute'>;

/**
 * The file of `rendererDir` that a URL's pathname (still percent-encoded) names. "/" is the index.
 * Compares paths, never URL strings: a file: URL of the same folder is spelled differently by Node
 * and by Chromium (`~`, brackets, drive-letter case), while path.relative on the decoded path says
 * exactly whether it stays inside the folder, whatever `..`, `%2e%2e` or (on Windows) `\` it holds.
 */
export function pageFileFor(pathname: string, rendererDir: string, paths: PathApi = path): PageFile {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return { ok: false, status: 400, why: 'malformed percent-encoding in the path' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, why: 'a NUL byte in the path' };
  if (decoded === '' || decoded === '/') decoded = '/index.html';
  const file = paths.join(rendererDir, decoded);
  const rel = paths.relative(rendererDir, file);
  if (rel === '' || rel === '..' || rel.startsWith(`..${'/'}`) || rel.startsWith('..\\') || paths.isAbsolute(rel)) return { ok: false, status: 404, why: 'outside the page' };
  return { ok: true, path: file };
}
