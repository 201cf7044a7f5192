import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, jsonLines } from './helpers/cli.js';
import { TRANSFER_COLUMNS } from '../core/metrics/transfer-meter.js';
import { RowClock } from '../cli/output.js';

describe('packetlab CLI', () => {
  it.each([[[]], [['transfer']], [['udp']]])('has --help for %j', (cmd) => {
    const r = cli([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: packetlab/);
  });

  it('lists the knobs with defaults and units in transfer --help', () => {
    const r = cli(['transfer', '--help']);
    for (const flag of ['--protocol', '--window', '--rto <time>', '--loss <p>', '--rev-loss <p>', '--burst-p', '--jitter-dist', '--link-rate <rate>', '--queue', '--mtu', '--rcvbuf', '--no-checksum', '--no-sack', '--cc']) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toMatch(/Timeouts:/);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--rto <time> the retransmission timeout in fixed mode; ms when bare (default 200ms)');
    expect(help).toContain('--link-rate <rate> bottleneck rate in bits/s (10M, 1.5G), 0 is unlimited; bits/s when bare');
  });

  it.each([
    [['transfer', '--loss', '2'], /--loss.*out of range: must be a number from 0 to 1/],
    [['transfer', '--window', '0'], /--window.*must be an integer from 1 to 16384/],
    [['transfer', '--protocol', 'tcp'], /--protocol.*"tcp" is not one of saw, gbn, sr/],
    [['transfer', '--delay', 'soon'], /--delay.*is not a duration/],
    [['transfer', '--rto-min', '500', '--rto-max', '100'], /--rto-min \(500\) must not exceed --rto-max \(100\)/],
    [['transfer', '--peer', 'nowhere'], /--peer: "nowhere" is not HOST:PORT/],
    [['transfer', '--bogus'], /^packetlab: unknown option '--bogus' \(see packetlab transfer --help\)$/],
    [['transfer', '--los', '5%'], /^packetlab: unknown option '--los' \(Did you mean --loss\?\) \(see packetlab transfer --help\)$/],
    [['transfer', 'extra'], /^packetlab: too many arguments for 'transfer'.*\(see packetlab transfer --help\)$/],
    [['transfer', '--net', 'tcp'], /^packetlab: option '--net <sim\|udp>' argument 'tcp' is invalid\. Allowed choices are sim, udp\.$/],
    [['rpc', 'frob'], /^packetlab: unknown command 'frob' \(see packetlab rpc --help\)$/],
    [['udp', '--rate', 'fast'], /--rate.*is not a rate/],
    [['udp', '--size', '10'], /--size must be an integer from 36 to 65507/],
  ])('rejects %j with one clear line and exit code 2', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // One line: no "(add --help for usage)" after it, no suggestion on a line of its own.
    expect(r.stderr.endsWith('\n')).toBe(true);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(message)]);
  });

  it('transfer --json streams samples and ends with a summary; --csv writes the columns', () => {
    const dir = mkdtempSync(join(tmpdir(), 'packetlab-'));
    const csv = join(dir, 'samples.csv');
    const r = cli(['transfer', '--seed', '5', '--bytes', '500KB', '--loss', '5%', '--delay', '20', '--rev-delay', '20', '--json', '--csv', csv]);
    expect(r.code).toBe(0);
    const lines = jsonLines(r.stdout);
    const summary = lines.pop()!;
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l) => l.type === 'sample')).toBe(true);
    expect(summary).toMatchObject({ type: 'summary', status: 'complete', dataMatched: true, bytes: 500_000, seed: 5 });
    // The link's drops of data, reconciled against what was sent again (the simulator knows each fate).
    const drops = summary.drops as { dropped: number; sentAgain: number; anotherCopyArrived: number; neverSentAgain: number; reconciled: boolean };
    expect(drops.dropped).toBe((summary.forward as { dropsRandom: number }).dropsRandom);
    expect(drops).toMatchObject({ neverSentAgain: 0, reconciled: true });
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe(TRANSFER_COLUMNS.join(','));
    expect(rows.length).toBe(lines.length + 1);
    expect(rows[1]!.split(',').length).toBe(TRANSFER_COLUMNS.length);
  });

  it('prints per-interval lines and a summary that says whether the data matched', () => {
    const r = cli(['transfer', '--seed', '9', '--bytes', '300KB', '--protocol', 'gbn', '--loss', '0.02', '--delay', '5']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/goodput/);
    expect(r.stdout).toMatch(/transfer complete: 300.00 kB in [\d.]+ s = .* goodput \(sim, gbn, seed 9\)/);
    expect(r.stdout).toMatch(/data: every byte matches what was sent/);
    expect(r.stdout).toMatch(/^drops: \d+ copies of data dropped on the way: \d+ sent again, \d+ needed no resend \(another copy arrived\); reconciled$/m);
  });

  it('says where the data first differs when corruption gets through with checksums off', () => {
    const r = cli(['transfer', '--seed', '4', '--bytes', '300KB', '--corrupt', '5%', '--no-checksum']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/data: MISMATCH, byte [\d,]+ differs from what was sent \(the first difference\)/);
  });

  it('--no-verify skips the data check and says the data was not checked', () => {
    const r = cli(['transfer', '--seed', '3', '--bytes', '200KB', '--loss', '3%', '--no-verify', '--json']);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout).pop()).toMatchObject({ status: 'complete', dataMatched: null, dataProblem: null, firstDifferenceAt: null });
  });

  it('fails with exit code 1 and a reason when the connection gives up', () => {
    const r = cli(['transfer', '--seed', '1', '--bytes', '10KB', '--loss', '1', '--max-retries', '2', '--rto-initial', '10']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/transfer failed: no answer to SYN after 3 attempts/);
  });

  it.each([
    ['1000pps', 1000],
    // 10 Mbit/s of 1200-byte datagrams with 28 bytes of IP and UDP headers: 10e6 / (1228 x 8) = 1017.9, sent as 1018 packets/s.
    ['10M', 1018],
  ])('udp --duration 2 --rate %s sends for 2 s: a bare duration is seconds', (rate, packetsPerSecond) => {
    const r = cli(['udp', '--net', 'sim', '--seed', '3', '--rate', rate, '--duration', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = jsonLines(r.stdout).pop()! as { durationS: number; ratePacketsPerSecond: number; sent: { packetsSent: number } };
    expect(s.ratePacketsPerSecond).toBe(packetsPerSecond);
    expect(s.sent.packetsSent).toBe(2 * packetsPerSecond);
    // The first datagram leaves at 0 and the last at (n - 1) / rate: the run lasts 2 s less one gap.
    expect(s.durationS).toBeCloseTo((2 * packetsPerSecond - 1) / packetsPerSecond, 9);
  });

  describe('the default link and --preset', () => {
    // The lab link: 100 Mbit/s, 5 ms each way. A window of 32 packets of 1164 bytes per round trip,
    // the round trip being both delays plus a DATA datagram's serialisation (1228 bytes on the wire).
    const labRttS = 0.01 + (1228 * 8) / 100e6;
    const labWindowBps = (32 * 1164 * 8) / labRttS;

    it('transfer alone runs on the lab link: it says so first, prints sample rows, and is window-limited', () => {
      const r = cli(['transfer', '--bytes', '5MB', '--seed', '2']);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toMatch(/^simulated transfer of 5\.00 MB on the lab link \(100 Mbit\/s, 5 ms each way; --preset ideal for none\): sr, window 32, seed 2 /);
      const rows = lines.filter((l) => /^\s+[\d.]+ s\s/.test(l));
      expect(rows.length).toBeGreaterThanOrEqual(1);
      const m = /transfer complete: 5\.00 MB in ([\d.]+) s = ([\d.]+) (bit|kbit|Mbit|Gbit)\/s goodput/.exec(r.stdout)!;
      expect(Number(m[1])).toBeGreaterThan(0.1);
      expect(m[3]).toBe('Mbit');
      const json = jsonLines(cli(['transfer', '--bytes', '5MB', '--seed', '2', '--json']).stdout).pop()! as { durationS: number; goodputBps: number };
      expect(json.goodputBps).toBeLessThan(1e9);
      // A window per round trip at most, and no less than 95% of it (no loss, no queueing).
      expect(json.goodputBps).toBeLessThanOrEqual(labWindowBps);
      expect(json.goodputBps).toBeGreaterThan(0.95 * labWindowBps);
    });

    it('--preset ideal gives the instant link of before', () => {
      const r = cli(['transfer', '--bytes', '5MB', '--seed', '2', '--preset', 'ideal']);
      expect(r.stdout.split('\n')[0]).toContain('on the ideal link (no delay, no rate limit, no loss):');
      expect(r.stdout).toMatch(/transfer complete: 5\.00 MB in 0\.000 s/);
      // No delay and no rate: the whole transfer takes (almost) no virtual time.
      const s = jsonLines(cli(['transfer', '--bytes', '5MB', '--seed', '2', '--preset', 'ideal', '--json']).stdout).pop()! as { durationS: number; status: string };
      expect(s.status).toBe('complete');
      expect(s.durationS).toBeLessThan(0.001);
    });

    it('impairment flags change the preset\'s fields and keep the rest', () => {
      const r = cli(['transfer', '--bytes', '1MB', '--seed', '2', '--delay', '20', '--loss', '1%']);
      expect(r.stdout.split('\n')[0]).toContain('on the lab link changed by your flags (100 Mbit/s, 20 ms forward, 5 ms back, loss 1% forward, 0% back; --preset ideal for none)');
      // dsl is 16 Mbit/s down and 1 Mbit/s up with 10 ms each way; --link-rate 2M changes the first only.
      const s = jsonLines(cli(['transfer', '--bytes', '1MB', '--seed', '2', '--preset', 'dsl', '--link-rate', '2M', '--json']).stdout).pop()! as { goodputBps: number; status: string };
      expect(s.status).toBe('complete');
      const payloadBps = (2e6 * 1164) / 1228;
      expect(s.goodputBps).toBeLessThanOrEqual(payloadBps);
      expect(s.goodputBps).toBeGreaterThan(0.95 * payloadBps);
      const first = cli(['transfer', '--bytes', '1MB', '--preset', 'dsl', '--link-rate', '2M']).stdout.split('\n')[0];
      expect(first).toContain('on the dsl link changed by your flags (2.00 Mbit/s forward, 1.00 Mbit/s back, 10 ms each way, jitter 1 ms each way):');
    });

    it('rejects an unknown preset in one line naming the valid ones', () => {
      for (const cmd of [['transfer'], ['udp'], ['rpc', 'workload']]) {
        const r = cli([...cmd, '--preset', 'carrier-pigeon']);
        expect(r.code).toBe(2);
        expect(r.stderr).toBe("packetlab: option '--preset <name>' argument 'carrier-pigeon' is invalid. Allowed choices are ideal, lab, lan, wifi, lossy-wifi, dsl, 3g, 4g, satellite.\n");
      }
      const listen = cli(['udp', '--listen', '0', '--preset', 'lab']);
      expect(listen.code).toBe(2);
      expect(listen.stderr).toBe('packetlab: --preset emulates the link on the sending side; it does not apply to --listen\n');
    });

    it('states the default link in --help', () => {
      for (const cmd of [['transfer'], ['udp'], ['rpc', 'workload']]) {
        const help = cli([...cmd, '--help']).stdout.replace(/\s+/g, ' ');
        expect(help).toContain('In the simulator the run is on the lab link (100 Mbit/s, 5 ms each way, a queue of 100 datagrams) unless --preset names another');
        expect(help).toContain('--preset <name> link preset for both directions');
        expect(help).toMatch(/--delay <time> one-way delay; ms when bare \(default from the link preset, else 0\)/);
      }
    });

    it('udp --net sim runs on the lab link: a stream above 100 Mbit/s fills the queue and the link carries its rate', () => {
      const r = cli(['udp', '--net', 'sim', '--seed', '2', '--rate', '200M', '--duration', '1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const s = jsonLines(r.stdout).pop()! as { durationS: number; sent: { packetsSent: number }; receiver: { packetsReceived: number }; link: { dropsQueue: number } };
      // 100 Mbit/s carries 100e6 / (1228 x 8) = 10179 datagrams a second while the stream lasts,
      // then the 100 datagrams left in the queue.
      const expected = (100e6 / (1228 * 8)) * s.durationS + 100;
      expect(Math.abs(s.receiver.packetsReceived - expected)).toBeLessThanOrEqual(2);
      expect(s.link.dropsQueue).toBeGreaterThan(0.45 * s.sent.packetsSent);
      expect(cli(['udp', '--net', 'sim', '--duration', '0.1']).stdout.split('\n')[0]).toContain(', simulated, on the lab link (100 Mbit/s, 5 ms each way; --preset ideal for none)');
    });

    it('rpc workload --net sim runs on the lab link: a call takes a round trip, and a bare --duration is seconds', () => {
      const r = cli(['rpc', 'workload', '--seed', '2', '--duration', '1', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const s = jsonLines(r.stdout).pop()! as { durationS: number; latencyP50Ms: number; latencyMeanMs: number; callsPerSecond: number };
      // 10 ms of delay plus the serialisation of a request and a reply at 100 Mbit/s (tens of microseconds).
      expect(s.latencyP50Ms).toBeGreaterThanOrEqual(10);
      expect(s.latencyP50Ms).toBeLessThan(10.1);
      expect(s.durationS).toBeGreaterThanOrEqual(1);
      expect(s.durationS).toBeLessThan(1 + 2 * s.latencyMeanMs / 1000);
      // 8 calls in flight, each a round trip long (Little's law).
      expect(s.callsPerSecond).toBeCloseTo(8 / (s.latencyMeanMs / 1000), -1);
      expect(cli(['rpc', 'workload', '--calls', '10']).stdout.split('\n')[0]).toContain('simulated RPC workload over udp on the lab link (100 Mbit/s, 5 ms each way; --preset ideal for none): 10 calls');
    });

    it('real sockets emulate nothing unless asked; --preset lab emulates the lab link there too', () => {
      const none = cli(['transfer', '--net', 'udp', '--bytes', '200KB', '--seed', '2']);
      expect(none.code, none.stderr).toBe(0);
      expect(none.stdout.split('\n')[0]).toMatch(/^UDP transfer of 200\.00 kB with no emulated impairment \(--preset NAME emulates a link\): sr/);
      const flags = cli(['transfer', '--net', 'udp', '--bytes', '200KB', '--seed', '2', '--loss', '1%']);
      expect(flags.stdout.split('\n')[0]).toContain('with emulated impairment (loss 1% forward, 0% back, no rate limit):');
      const lab = cli(['transfer', '--net', 'udp', '--bytes', '2MB', '--seed', '2', '--preset', 'lab', '--json']);
      expect(lab.code, lab.stderr).toBe(0);
      const s = jsonLines(lab.stdout).pop()! as { goodputBps: number };
      // Real timers only add to the emulated round trip: the window bound holds.
      expect(s.goodputBps).toBeLessThanOrEqual(labWindowBps);
    });
  });

  describe('row labels', () => {
    /** The printed rows: their time labels and cells. */
    const rowsOf = (stdout: string) =>
      stdout
        .split('\n')
        .filter((l) => /^\s+[\d.]+ s\s/.test(l))
        .map((l) => {
          const cells = l.trim().split(/\s+/);
          return { label: `${cells[0]} ${cells[1]}`, timeS: Number(cells[0]), cells: cells.slice(2) };
        });
    const sampleTimes = (args: string[]) => jsonLines(cli([...args, '--json']).stdout).filter((l) => l.type === 'sample').map((l) => l.time_s as number);

    it.each([
      // The bug: a 0.5 s interval printed "1.0 s" twice, the second row being the last few
      // milliseconds of the run (the final report comes a link delay or so after the last sample).
      [['udp', '--net', 'sim', '--seed', '1', '--duration', '1', '--interval', '0.5s'], ['1.0 s']],
      // 300 ms samples and 1 s rows: a row at the first sample past each second, not every 1.2 s.
      [['udp', '--net', 'sim', '--seed', '1', '--duration', '3', '--interval', '300ms'], ['1.2 s', '2.1 s', '3.0 s']],
      // Rows shorter than the samples: one row per sample, none twice.
      [['udp', '--net', 'sim', '--seed', '1', '--duration', '1', '--interval', '500ms', '--print-interval', '100ms'], ['0.5 s', '1.0 s']],
      // 250 ms needs two decimals; rpc workload prints every sample.
      [['rpc', 'workload', '--seed', '1', '--duration', '1', '--interval', '250ms'], ['0.25 s', '0.50 s', '0.75 s', '1.00 s']],
      [['transfer', '--seed', '2', '--bytes', '5MB', '--interval', '250ms'], ['1.00 s']],
    ])('%j labels each row with the real end of its interval', (args, regular) => {
      const rows = rowsOf(cli(args).stdout);
      const times = sampleTimes(args);
      // The regular rows, then the run's last, partial row at the last sample, to the millisecond.
      const end = times.at(-1)!;
      expect(end).toBeGreaterThan(rows.at(-2)!.timeS);
      expect(rows.map((r) => r.label)).toEqual([...regular, `${end.toFixed(3)} s`]);
      // Each row ends at a sample.
      for (const r of rows) expect(times.some((t) => Math.abs(t - r.timeS) < 0.0005), `${r.label} is a sample time`).toBe(true);
    });

    it('labels rows of late timers (real sockets) at the intervals\' precision, and the last one to the millisecond', () => {
      const clock = new RowClock(1000, 100);
      const labels: string[] = [];
      // Samples of a timer that runs a few milliseconds late, then the end of the run.
      for (const t of [0.1004, 0.5012, 0.9031, 1.0035, 1.1041, 1.9991, 2.0046, 2.1052]) if (clock.due(t)) labels.push(clock.close(t));
      expect(clock.pending(2.1377)).toBe(true);
      labels.push(clock.close(2.1377, true));
      expect(labels).toEqual(['1.0 s', '2.0 s', '2.138 s']);
      // A last row that ends on the grid needs no more decimals than the others.
      const even = new RowClock(500, 250);
      expect([even.close(0.5), even.close(0.75, true)]).toEqual(['0.50 s', '0.75 s']);
    });

    it('prints every datagram sent in exactly one row, whatever the intervals', () => {
      for (const [interval, print] of [['300ms', '1s'], ['500ms', '100ms'], ['70ms', '250ms']]) {
        const args = ['udp', '--net', 'sim', '--seed', '1', '--duration', '3', '--interval', interval!, '--print-interval', print!];
        const sent = rowsOf(cli(args).stdout).reduce((n, r) => n + Number(r.cells[0]), 0);
        const s = jsonLines(cli([...args, '--json']).stdout).pop()! as { sent: { packetsSent: number } };
        expect(sent, `${interval} / ${print}`).toBe(s.sent.packetsSent);
      }
    });
  });

  it('udp --net sim reports loss, duplication and reordering', () => {
    // With this seed the SYN is not lost and no datagram is held back past the FIN (the final
    // report, sent on the FIN, would count it lost), so every datagram the link let through counts.
    const r = cli(['udp', '--net', 'sim', '--seed', '6', '--rate', '2000pps', '--duration', '2s', '--loss', '10%', '--duplicate', '2%', '--reorder', '2%', '--json']);
    expect(r.code).toBe(0);
    const s = jsonLines(r.stdout).pop()! as { status: string; receiver: Record<string, number>; sent: Record<string, number>; link: Record<string, number> };
    expect(s.status).toBe('complete');
    expect(s.sent.packetsSent).toBe(4000);
    expect(s.receiver.packetsReceived).toBe(4000 - s.link.dropsRandom);
    expect(s.receiver.duplicates).toBe(s.link.duplicated);
    expect(s.receiver.reordered).toBeGreaterThan(0);
  });
});
