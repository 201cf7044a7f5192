// Saving files from the page. In the desktop app the preload offers a save dialog
// (`window.packetlabDesktop.saveFile`); in a browser a Blob and an <a download> click do it.

import type { DesktopApi, SaveFileRequest } from '../../../electron/channels.js';

declare global {
  interface Window {
    /** The desktop app's extras (save dialog, menu commands), when the page runs in Electron. */
    packetlabDesktop?: DesktopApi;
  }
}

/** Offers `blob` as a download named `fileName`. */
export function downloadBlob(blob: Blob, fileName: string, doc: Document = document): void {
  const url = URL.createObjectURL(blob);
  const a = doc.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.hidden = true;
  doc.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** A canvas as a PNG Blob. */
export function canvasPng(canvas: HTMLCanvasElement): Promise<Blob> {
  return new Promise((resolve, reject) => {
    canvas.toBlob((b) => (b === null ? reject(new Error('the chart could not be turned into a PNG')) : resolve(b)), 'image/png');
  });
}

/** A file name made of safe characters. */
export function safeFileName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'packetlab';
}

async function base64Of(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

/** The MIME type of a browser download of each kind of file (typed by the contract: a new kind fails to compile here). */
const MIME: Record<SaveFileRequest['kind'], string> = { csv: 'text/csv', png: 'image/png', pcapng: 'application/vnd.tcpdump.pcap' };

/**
 * Saves a CSV text, a PNG image or a pcapng capture: a save dialog in the desktop app, a download
 * in a browser. A PNG or a capture given as a string is base64. Resolves with the error, or null.
 */
export async function saveFile(kind: SaveFileRequest['kind'], fileName: string, data: string | Blob, win: Window = window): Promise<string | null> {
  const desktop = win.packetlabDesktop;
  if (desktop === undefined) {
    const blob = typeof data !== 'string' ? data : new Blob([kind === 'csv' ? data : bytesOfBase64(data)], { type: MIME[kind] });
    downloadBlob(blob, fileName, win.document);
    return null;
  }
  // The desktop app takes CSV as text, PNG and pcapng as base64.
  const payload = typeof data === 'string' ? data : kind === 'csv' ? await data.text() : await base64Of(data);
  const r = await desktop.saveFile({ suggestedName: fileName, kind, data: payload });
  return r.ok ? null : r.error;
}

function bytesOfBase64(base64: string): Uint8Array<ArrayBuffer> {
  const raw = atob(base64);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}
