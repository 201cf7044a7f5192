// The desktop window's page comes from its own scheme, packetlab://app/, served from the built
// renderer by protocol.handle (Electron's security checklist, item 18: prefer a custom protocol to
// file://). The page's URL is then the same on every machine, so trusting a sender or allowing a
// request compares a fixed origin instead of file: URLs, which Node and Chromium spell differently
// for the same folder; and file: itself can be refused outright.

import { readFile, stat } from 'node:fs/promises';
import { pageFileFor, pageHeaders } from '../experiments/api/page.js';

/** The scheme of the app's page. */
export const APP_SCHEME = 'packetlab';
/** The host of every app URL. */
export const APP_HOST = 'app';
/** The page's URL. */
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/**
 * The scheme's privileges (protocol.registerSchemesAsPrivileged, before the app is ready): a
 * standard, secure origin, so that relative URLs, localStorage and ES module scripts work as on
 * https, and nothing more (no service workers, no bypassing the Content-Security-Policy).
 */
export const APP_SCHEME_PRIVILEGES = { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, codeCache: true } as const;

function parse(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** Is this a URL of the app's page (any file of it)? */
export function isAppUrl(url: string): boolean {
  const u = parse(url);
  // Chromium lower-cases the host of a standard scheme; Node keeps the case of a non-special one.
  return u !== null && u.protocol === `${APP_SCHEME}:` && u.host.toLowerCase() === APP_HOST;
}

/** Is this the page itself (query and fragment aside)? */
export function isAppIndexUrl(url: string): boolean {
  const u = parse(url);
  return u !== null && isAppUrl(url) && u.pathname === '/index.html';
}

function refusal(status: number, why: string): Response {
  return new Response(`${why}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' } });
}

/** The scheme's handler: the files of `rendererDir`, with the page's headers; never throws. */
export function appRequestHandler(rendererDir: string): (request: Request) => Promise<Response> {
  return async (request) => {
    try {
      if (request.method !== 'GET' && request.method !== 'HEAD') return refusal(405, 'only GET and HEAD');
      const url = parse(request.url);
      if (url === null || !isAppUrl(request.url)) return refusal(404, 'not found');
      const file = pageFileFor(url.pathname, rendererDir);
      if (!file.ok) return refusal(file.status, file.why);
      const info = await stat(file.path).catch(() => null);
      if (info === null || !info.isFile()) return refusal(404, 'not found');
      const body = request.method === 'HEAD' ? null : await readFile(file.path);
      return new Response(body, { status: 200, headers: pageHeaders(file.path) });
    } catch (e) {
      return refusal(500, `cannot read the page: ${(e as Error).message}`);
    }
  };
}
