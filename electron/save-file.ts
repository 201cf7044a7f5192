// `desktop:save-file`: the page hands over a CSV text, or a PNG image or pcapng capture (base64),
// and a file name; main shows a save dialog and writes the bytes where the user chose. The page
// never names a folder.

import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { z } from 'zod';
import type { Result } from '../experiments/api/contract.js';
import type { SaveFileRequest } from './channels.js';
import { BLOCK_SHB } from '../core/capture/pcapng.js';

/** Largest file the page may save. */
export const MAX_SAVE_BYTES = 64 * 1024 * 1024;
/** Longest base64 text of MAX_SAVE_BYTES bytes. */
const MAX_BASE64_CHARS = Math.ceil(MAX_SAVE_BYTES / 3) * 4;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Every pcapng file starts with a Section Header Block (its type reads the same in either byte order). */
const PCAPNG_SIGNATURE = Buffer.alloc(4);
PCAPNG_SIGNATURE.writeUInt32BE(BLOCK_SHB);

const fileName = z
  .string()
  .min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' })
  .refine((s) => !/[/\\]/.test(s), { error: 'must be a file name, without / or \\' })
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { error: 'must not contain control characters' })
  .refine((s) => s !== '.' && s !== '..', { error: 'must be a file name' });

const SaveFileSchema = z.strictObject({
  suggestedName: fileName,
  kind: z.enum(['csv', 'png', 'pcapng']),
  data: z.string().max(MAX_BASE64_CHARS, { error: 'is larger than 64 MiB' }),
});

/** Validates a save request; the error says which field and why. */
export function checkSaveFileRequest(request: unknown): Result<SaveFileRequest> {
  const r = SaveFileSchema.safeParse(request);
  if (!r.success) {
    const first = r.error.issues[0]!;
    const where = first.path.length > 0 ? `.${first.path.join('.')}` : '';
    const message = first.code === 'unrecognized_keys' ? `unknown field(s) ${first.keys.join(', ')}` : first.message;
    return { ok: false, error: `saveFile${where}: ${message}` };
  }
  const req = r.data;
  if (req.kind === 'csv' && Buffer.byteLength(req.data, 'utf8') > MAX_SAVE_BYTES) return { ok: false, error: 'saveFile.data: is larger than 64 MiB' };
  if (req.kind === 'png') return checkBase64File(req, PNG_SIGNATURE, 'a PNG', 'a PNG image');
  if (req.kind === 'pcapng') return checkBase64File(req, PCAPNG_SIGNATURE, 'a capture', 'a pcapng capture');
  return { ok: true, value: req };
}

/** A base64 request whose bytes must start with `magic` (`given`: how it must be given; `what`: what it must be). */
function checkBase64File(req: SaveFileRequest, magic: Buffer, given: string, what: string): Result<SaveFileRequest> {
  if (req.data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(req.data)) return { ok: false, error: `saveFile.data: ${given} must be given as base64` };
  const head = Buffer.from(req.data.slice(0, Math.ceil(magic.length / 3) * 4), 'base64');
  if (!head.subarray(0, magic.length).equals(magic)) return { ok: false, error: `saveFile.data: is not ${what}` };
  return { ok: true, value: req };
}

/** The bytes to write. */
export function saveFileBytes(req: SaveFileRequest): Buffer {
  return req.kind === 'csv' ? Buffer.from(req.data, 'utf8') : Buffer.from(req.data, 'base64');
}

/** The save dialog's file filters. */
export function saveFilters(kind: SaveFileRequest['kind']): { name: string; extensions: string[] }[] {
  if (kind === 'csv') return [{ name: 'CSV table', extensions: ['csv'] }];
  if (kind === 'pcapng') return [{ name: 'Packet capture (Wireshark)', extensions: ['pcapng'] }];
  return [{ name: 'PNG image', extensions: ['png'] }];
}

/** The chosen path, with the kind's extension when the user typed none. */
export function withExtension(path: string, kind: SaveFileRequest['kind']): string {
  return extname(path) === '' ? `${path}.${kind}` : path;
}

/** Asks for a path (null: canceled). */
export type AskPath = (o: { defaultName: string; filters: { name: string; extensions: string[] }[] }) => Promise<string | null>;

/** Validates, asks for the path and writes; never throws. */
export async function saveFile(request: unknown, askPath: AskPath): Promise<Result<{ path: string } | null>> {
  const checked = checkSaveFileRequest(request);
  if (!checked.ok) return checked;
  const req = checked.value;
  try {
    const chosen = await askPath({ defaultName: req.suggestedName, filters: saveFilters(req.kind) });
    if (chosen === null) return { ok: true, value: null };
    const path = withExtension(chosen, req.kind);
    await writeFile(path, saveFileBytes(req));
    return { ok: true, value: { path } };
  } catch (e) {
    return { ok: false, error: `saveFile: ${(e as Error).message}` };
  }
}
