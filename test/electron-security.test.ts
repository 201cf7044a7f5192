// The desktop window's security settings and checks (electron/security.ts, renderer-page.ts),
// tested without Electron.

import { describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { CONTENT_SECURITY_POLICY as SERVE_CSP } from '../experiments/api/serve.js';
import {
  CONTENT_SECURITY_POLICY,
  isAllowedRequest,
  isIndexUrl,
  isTrustedSender,
  permissionCheckHandler,
  permissionRequestHandler,
  webPreferences,
  windowOptions,
  withContentSecurityPolicy,
} from '../electron/security.js';
import { appFiles, metaContentSecurityPolicy } from '../electron/renderer-page.js';

const files = appFiles(pathToFileURL('/opt/Packet Lab/resources/app.asar/dist/electron/main.js').href);
const indexUrl = files.indexUrl;
const wc = { id: 1 };
const mainFrame = (url: string) => ({ url, parent: null });

describe('window options', () => {
  it('isolate and sandbox the page, without Node, with web security', () => {
    const p = webPreferences('/x/preload.cjs');
    expect(p).toMatchObject({
      preload: '/x/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      disableBlinkFeatures: 'Auxclick',
    });
    expect(p).not.toHaveProperty('enableBlinkFeatures');
    const w = windowOptions('/x/preload.cjs');
    expect(w.webPreferences).toEqual(p);
    expect(w.show).toBe(false);
    expect(w.title).toBe('Packet Lab');
  });
});

describe('content security policy', () => {
  it('is the one `packetlab serve` sends', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(SERVE_CSP);
    expect(CONTENT_SECURITY_POLICY).toMatch(/default-src 'self'/);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
  });

  it('replaces any policy a response carries and keeps the other headers', () => {
    const h = withContentSecurityPolicy({ 'content-security-policy': ["default-src *"], 'Content-Security-Policy-Report-Only': 'x', 'Content-Type': ['text/html'], 'X-Other': 'a' });
    expect(h['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
    expect(Object.keys(h).filter((k) => k.toLowerCase().startsWith('content-security-policy'))).toEqual(['Content-Security-Policy']);
    expect(h['Content-Type']).toEqual(['text/html']);
    expect(h['X-Other']).toEqual(['a']);
    expect(withContentSecurityPolicy(undefined)['Content-Security-Policy']).toEqual([CONTENT_SECURITY_POLICY]);
  });

  it('reads the page\'s own meta policy', () => {
    expect(metaContentSecurityPolicy(`<head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'self'; img-src data:"></head>`)).toBe("default-src 'self'; img-src data:");
    expect(metaContentSecurityPolicy(`<meta content='default-src &#39;none&#39;' http-equiv='content-security-policy'>`)).toBe("default-src 'none'");
    expect(metaContentSecurityPolicy('<meta charset="utf-8"><title>x</title>')).toBeNull();
  });
});

describe('IPC sender validation', () => {
  it('accepts our window\'s main frame on our index page (query and fragment aside)', () => {
    expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(indexUrl) }, { indexUrl, webContents: wc })).toBe(true);
    expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(`${indexUrl}?run=3#history`) }, { indexUrl, webContents: wc })).toBe(true);
  });

  it('refuses a foreign origin', () => {
    for (const url of ['https://evil.example/index.html', 'http://127.0.0.1:8765/', 'data:text/html,<b>x</b>', 'about:blank', 'devtools://devtools/bundled/inspector.html', 'not a url']) {
      expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(url) }, { indexUrl, webContents: wc }), url).toBe(false);
    }
  });

  it('refuses a subframe, even one showing our page', () => {
    expect(isTrustedSender({ sender: wc, senderFrame: { url: indexUrl, parent: mainFrame(indexUrl) } }, { indexUrl, webContents: wc })).toBe(false);
  });

  it('refuses another file:// page, another host, and a missing frame', () => {
    for (const url of [
      pathToFileURL('/etc/passwd').href,
      pathToFileURL('/opt/Packet Lab/resources/app.asar/dist/renderer/other.html').href,
      pathToFileURL('/opt/Packet Lab/resources/app.asar/dist/renderer/index.html.evil').href,
      pathToFileURL('/tmp/dist/renderer/index.html').href,
      indexUrl.replace('file:///', 'file://attacker/'),
    ]) {
      expect(isTrustedSender({ sender: wc, senderFrame: mainFrame(url) }, { indexUrl, webContents: wc }), url).toBe(false);
    }
    expect(isTrustedSender({ sender: wc, senderFrame: null }, { indexUrl, webContents: wc })).toBe(false);
    expect(isTrustedSender({ sender: wc, senderFrame: undefined }, { indexUrl, webContents: wc })).toBe(false);
  });

  it('refuses another window\'s web contents', () => {
    expect(isTrustedSender({ sender: { id: 2 }, senderFrame: mainFrame(indexUrl) }, { indexUrl, webContents: wc })).toBe(false);
  });

  it('compares files, not spellings', () => {
    expect(isIndexUrl(indexUrl.replace('/dist/renderer/', '/dist/electron/../renderer/'), indexUrl)).toBe(true);
    expect(isIndexUrl(indexUrl.replace('index.html', 'index%2Ehtml'), indexUrl)).toBe(false);
  });
});

describe('requests the page may make', () => {
  const dir = files.rendererDirUrl;
  it('are files of the renderer folder, data:, blob: and devtools:', () => {
    expect(dir.endsWith('/dist/renderer/')).toBe(true);
    expect(isAllowedRequest(files.indexUrl, dir)).toBe(true);
    expect(isAllowedRequest(`${dir}assets/app-1234.js`, dir)).toBe(true);
    expect(isAllowedRequest('data:image/png;base64,AAAA', dir)).toBe(true);
    expect(isAllowedRequest('blob:file:///5c1e-77', dir)).toBe(true);
  });

  it('are not the network, other files, or look-alike folders', () => {
    for (const url of [
      'https://cdn.example/chart.js',
      'http://127.0.0.1:8765/api',
      'ws://127.0.0.1:8765/api',
      pathToFileURL('/etc/passwd').href,
      `${dir}../electron/main.js`,
      dir.replace(/\/renderer\/$/, '/renderer-evil/app.js'),
      'file://attacker/share/x.js',
      'chrome://gpu',
      'garbage',
    ]) {
      expect(isAllowedRequest(url, dir), url).toBe(false);
    }
  });
});

describe('permissions', () => {
  it('are all refused', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'fileSystem']) {
      let granted: boolean | undefined;
      permissionRequestHandler({}, permission, (g) => (granted = g));
      expect(granted, permission).toBe(false);
    }
    expect(permissionCheckHandler()).toBe(false);
  });
});

describe('app files', () => {
  it('are found next to the compiled main', () => {
    expect(files.preloadPath).toBe('/opt/Packet Lab/resources/app.asar/dist/electron/preload.cjs');
    expect(files.indexPath).toBe('/opt/Packet Lab/resources/app.asar/dist/renderer/index.html');
    expect(files.indexUrl).toBe('file:///opt/Packet%20Lab/resources/app.asar/dist/renderer/index.html');
  });
});
