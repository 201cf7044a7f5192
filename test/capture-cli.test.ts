// --pcap, --pcap-max-size and --packet-log on the built CLI (npm test builds first).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readPcapng } from '../core/capture/pcapng.js';

const dir = mkdtempSync(join(tmpdir(), 'packetlab-cli-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function packetlab(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/packetlab.js', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const frames = (path: string) => readPcapng(readFileSync(path)).blocks.filter((b) => b.type === 'epb').length;
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').length;

describe('packetlab --pcap', () => {
  it('writes the same capture and packet log for the same seed of a simulated transfer', () => {
    const run = (n: number) => {
      const pcap = join(dir, `t${n}.pcapng`);
      const log = join(dir, `t${n}.jsonl`);
      const r = packetlab('transfer', '--bytes', '50k', '--loss', '0.05', '--rev-loss', '0.05', '--seed', '8', '--pcap', pcap, '--packet-log', log);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      return { pcap, log, stdout: r.stdout };
    };
    const a = run(1);
    const b = run(2);
    const n = frames(a.pcap);
    expect(n).toBeGreaterThan(40);
    expect(lines(a.log)).toBe(n);
    expect(a.stdout).toContain(`capture: ${n} frames written to ${a.pcap}`);
    expect(readFileSync(a.pcap).equals(readFileSync(b.pcap))).toBe(true);
    expect(readFileSync(a.log, 'utf8')).toBe(readFileSync(b.log, 'utf8'));
  });

  it('records `packetlab udp` in the simulator, and reports the capture as JSON with --json', () => {
    const pcap = join(dir, 'u.pcapng');
    const r = packetlab('udp', '--net', 'sim', '--duration', '300ms', '--rate', '300pps', '--size', '200', '--loss', '0.1', '--seed', '2', '--pcap', pcap, '--pcap-max-size', '8KiB', '--json');
    expect(r.code).toBe(0);
    const objs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const cap = objs.find((o) => o.type === 'capture')!;
    expect(cap).toMatchObject({ pcap, packetLog: null, capped: true });
    expect(cap.bytesWritten as number).toBeLessThanOrEqual(8192);
    expect(frames(pcap)).toBe(cap.framesWritten);
    expect(objs.at(-1)!.type).toBe('summary');
  });

  it('rejects a bad path or size in one line, before running anything', () => {
    const cases: [string[], RegExp][] = [
      [['--pcap', join(dir, 'missing', 'x.pcapng')], /^packetlab: --pcap: cannot write ".*missing\/x\.pcapng" \(its folder does not exist\)\n$/],
      [['--pcap', dir], /^packetlab: --pcap: cannot write ".*" \(it is a folder\)\n$/],
      [['--packet-log', join(dir, 'missing', 'x.jsonl')], /^packetlab: --packet-log: cannot write .*\(its folder does not exist\)\n$/],
      [['--pcap', join(dir, 'a.pcapng'), '--pcap-max-size', '100'], /--pcap-max-size must be an integer from 4096 to 1000000000000 \(got 100\)/],
      [['--pcap', join(dir, 'a.pcapng'), '--pcap-max-size', 'lots'], /"lots" is not a size/],
      [['--pcap-max-size', '1MB'], /^packetlab: --pcap-max-size needs --pcap FILE\n$/],
      [['--pcap', join(dir, 'same'), '--packet-log', join(dir, 'same')], /^packetlab: --pcap and --packet-log must be different files\n$/],
      [['--listen', '0', '--pcap', join(dir, 'l.pcapng')], /^packetlab: --pcap and --packet-log record the sending side; they do not apply to --listen\n$/],
    ];
    for (const [args, err] of cases) {
      const r = packetlab('transfer', '--bytes', '10k', ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(err);
      expect(r.stdout).not.toContain('transfer complete');
    }
    expect(existsSync(join(dir, 'a.pcapng'))).toBe(false);
  });
});
