// --pcap, --pcap-max-size and --packet-log, shared by the commands that run traffic: the flags,
// opening the files before the run (a bad path is a usage error, not a crash after the run) and
// the closing line.

import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { Capture, MIN_CAPTURE_BYTES, type CaptureStats } from '../core/capture/capture.js';
import { FileSink } from '../net/capture/file-sink.js';
import { formatBytes, parseBytes } from '../core/units.js';
import { numberArg } from './args.js';
import { UsageError } from './options.js';
import { jsonLine } from './output.js';

/** Default cap of --pcap-max-size: a long run must not fill the disk. */
export const DEFAULT_PCAP_MAX_BYTES = 1e9;
const MAX_PCAP_MAX_BYTES = 1e12;

/** Adds --pcap, --pcap-max-size and --packet-log to a command. */
export function addCaptureOptions(cmd: Command): void {
  const g = 'Capture:';
  cmd.addOption(new Option('--pcap <file>', 'record the datagrams to a pcapng file for Wireshark; those the link dropped, duplicated, delayed or corrupted are kept and annotated (docs/wireshark.md)').helpGroup(g));
  cmd.addOption(
    new Option('--pcap-max-size <size>', `stop recording when the pcapng file would pass this size; a bare number is bytes (default ${formatBytes(DEFAULT_PCAP_MAX_BYTES)})`)
      .argParser(numberArg(parseBytes, MIN_CAPTURE_BYTES, MAX_PCAP_MAX_BYTES, '--pcap-max-size', true))
      .helpGroup(g),
  );
  cmd.addOption(new Option('--packet-log <file>', "write the lab's own log of the same datagrams: one JSON object per frame with its header fields and fate").helpGroup(g));
}

function open(path: string, flag: string): FileSink {
  try {
    return new FileSink(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'its folder does not exist' : err.code === 'EISDIR' ? 'it is a folder' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
    throw new UsageError(`${flag}: cannot write "${path}" (${why})`);
  }
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The files a capture writes, for the closing line. */
export interface OpenCapture {
  capture: Capture;
  pcapPath: string | null;
  logPath: string | null;
}

/**
 * Opens the capture the flags ask for, or returns null. `wallClock` runs stamp frames with the
 * time of day; simulated runs with virtual time from 0. `comment` describes the run (kept free
 * of paths and dates so that a simulated capture is the same bytes for the same seed).
 */
export function openCapture(o: Record<string, unknown>, wallClock: boolean, comment: string): OpenCapture | null {
  const pcapPath = o.pcap as string | undefined;
  const logPath = o.packetLog as string | undefined;
  if (pcapPath === undefined && o.pcapMaxSize !== undefined) throw new UsageError('--pcap-max-size needs --pcap FILE');
  if (pcapPath === undefined && logPath === undefined) return null;
  if (pcapPath !== undefined && pcapPath === logPath) throw new UsageError('--pcap and --packet-log must be different files');
  const pcap = pcapPath === undefined ? null : open(pcapPath, '--pcap');
  const log = logPath === undefined ? null : open(logPath, '--packet-log');
  const capture = new Capture({
    pcap,
    log,
    maxBytes: (o.pcapMaxSize as number | undefined) ?? DEFAULT_PCAP_MAX_BYTES,
    timeOriginMs: wallClock ? performance.timeOrigin : 0,
    application: `packetlab ${version()}`,
    comment,
  });
  return { capture, pcapPath: pcapPath ?? null, logPath: logPath ?? null };
}

/** Closes the capture and says what was written: a line, or a JSON object of type "capture". */
export function closeCapture(c: OpenCapture | null, json: boolean): CaptureStats | null {
  if (c === null) return null;
  const s = c.capture.close();
  if (json) {
    jsonLine({ type: 'capture', pcap: c.pcapPath, packetLog: c.logPath, ...s });
    return s;
  }
  const where = [c.pcapPath === null ? null : `${c.pcapPath} (${formatBytes(s.bytesWritten)})`, c.logPath].filter((x) => x !== null).join(' and ');
  const cut = s.capped ? `; the size cap stopped it, ${s.framesSkipped} later frames not written (--pcap-max-size)` : '';
  console.log(`capture: ${s.framesWritten} frames written to ${where}${cut}`);
  return s;
}
