// Naming with the machine's rpcbind on port 111: the TypeScript server registers there, appears
// in `rpcinfo -p`, answers `rpcinfo -u` and `rpcinfo -t` ("ready and waiting"), is found by a C
// client through clnt_create(), and `packetlab rpcinfo` lists what rpcbind holds. Every test that
// uses port 111 is in this file, so parallel test files never fight over it.
//
// rpcbind is used when it already runs; otherwise it is started here (that needs root and the
// rpcbind package) and stopped by its PID afterwards. Without either, the tests skip and say why.

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { runRpcgen } from '../cli/commands/rpcgen.js';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binderAnswers, rpcbDump, rpcbGetAddr, rpcbGetTime, registerServer, resolvePort, type Registration } from '../net/rpc/binder.js';
import { RpcbprogV3Client, RpcbprogV4Client } from '../core/rpc/rpcb_prot.js';
import { fromRpcblist, parseUniversalAddress, universalAddress, type RpcbEntry } from '../core/rpc/rpcbind.js';
import { RpcServer } from '../net/rpc/server-net.js';
import { RpcClient } from '../net/rpc/client-net.js';
import { demoPrograms } from '../experiments/rpc/demo.js';
import { CounterProgV1, CounterProgV1Client } from '../core/rpc/programs/counter.js';
import { TypesProgV1 } from '../experiments/rpc/types.js';
import { cliAsync } from './helpers/cli.js';
import { until } from './helpers/until.js';
import { buildTypesStubs, missingCTools } from './helpers/c-stubs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The processes running `exe` (from /proc), by PID. */
function pidsOf(exe: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0')[0] === exe) out.push(Number(d));
    } catch {
      // The process ended meanwhile.
    }
  }
  return out;
}

function which(cmd: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

function sh(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => resolve({ code: err === null ? 0 : 1, stdout, stderr }));
  });
}

const rpcbindPath = which('rpcbind') ?? (existsSync('/usr/sbin/rpcbind') ? '/usr/sbin/rpcbind' : null);
const rpcinfoPath = which('rpcinfo') ?? (existsSync('/usr/sbin/rpcinfo') ? '/usr/sbin/rpcinfo' : null);
const isRoot = process.getuid?.() === 0;
const running = await binderAnswers('127.0.0.1', 111);
let skipReason: string | null = null;
if (rpcinfoPath === null) skipReason = 'rpcinfo is not installed (package rpcbind)';
else if (!running && rpcbindPath === null) skipReason = 'no rpcbind runs on port 111 and the rpcbind package is not installed';
else if (!running && !isRoot) skipReason = 'no rpcbind runs on port 111 and starting one needs root';
if (skipReason !== null) console.warn(`rpc-rpcbind: skipped: ${skipReason} (CI installs rpcbind and runs as root)`);
const rstatSkip = !existsSync('/usr/sbin/rpc.rstatd') ? 'rpc.rstatd is not installed (package rstatd)' : which('rsysinfo') === null ? 'rsysinfo is not installed (package rstat-client)' : !existsSync('/usr/include/rpcsvc/rstat.x') ? 'rstat.x is not installed (package rpcsvc-proto)' : null;
if (rstatSkip !== null && skipReason === null) console.warn(`rpc-rpcbind: the rstatd test skipped: ${rstatSkip} (CI installs rstatd and rstat-client)`);

describe.skipIf(skipReason !== null)('naming with rpcbind on port 111', () => {
  let started: ChildProcess | null = null;
  let server: RpcServer;
  let reg: Registration;
  let cDir = '';

  beforeAll(async () => {
    if (!(await binderAnswers('127.0.0.1', 111))) {
      started = spawn(rpcbindPath!, ['-f', '-w'], { stdio: 'ignore' });
      await until('the rpcbind started here to answer on port 111', () => binderAnswers('127.0.0.1', 111), 10_000, 100);
    }
    server = await RpcServer.start({ programs: demoPrograms().programs, ports: { udp: 0, tcp: 0, plt: 0 } });
    reg = await registerServer(server, { port: 111, kind: 'rpcbind' });
    if (missingCTools().length === 0) cDir = buildTypesStubs();
  }, 60_000);

  afterAll(async () => {
    await reg?.unregister();
    await server?.close();
    if (started !== null && started.pid !== undefined) {
      const exited = new Promise((r) => started!.once('exit', r));
      process.kill(started.pid, 'SIGTERM');
      await exited;
    }
    if (cDir !== '') rmSync(cDir, { recursive: true, force: true });
  });

  it('registers UDP and TCP with rpcbind (it has no protocol for the lab transport) and shows in rpcinfo -p', async () => {
    expect(reg.kind).toBe('rpcbind');
    expect(reg.mappings.map((m) => [m.prog, m.prot]).filter(([p]) => p === CounterProgV1.program)).toEqual([
      [CounterProgV1.program, 17],
      [CounterProgV1.program, 6],
    ]);
    expect(reg.refused.every((m) => m.prot === 254)).toBe(true);
    const r = await sh(rpcinfoPath!, ['-p', '127.0.0.1']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\\s${CounterProgV1.program}\\s+1\\s+udp\\s+${server.port('udp')}\\b`));
    expect(r.stdout).toMatch(new RegExp(`\\s${CounterProgV1.program}\\s+1\\s+tcp\\s+${server.port('tcp')}\\b`));
  });

  it('rpcinfo -u and rpcinfo -t get "ready and waiting" from the TypeScript server', async () => {
    for (const flag of ['-u', '-t']) {
      const r = await sh(rpcinfoPath!, [flag, '127.0.0.1', String(CounterProgV1.program), '1']);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(`program ${CounterProgV1.program} version 1 ready and waiting`);
    }
    // A version the server does not have: rpcinfo reports the range it got in PROG_MISMATCH.
    const bad = await sh(rpcinfoPath!, ['-u', '127.0.0.1', String(CounterProgV1.program), '2']);
    expect(bad.code).not.toBe(0);
  });

  it('packetlab rpcinfo lists what rpcbind holds, as rpcinfo -p does', async () => {
    const ours = await cliAsync(['rpcinfo', '-p']);
    expect(ours.code).toBe(0);
    const theirs = await sh(rpcinfoPath!, ['-p', '127.0.0.1']);
    const rows = (text: string) =>
      text
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/).slice(0, 4).join(' '))
        .sort();
    expect(rows(ours.stdout)).toEqual(rows(theirs.stdout));
    expect(ours.stdout.split('\n')[0]).toBe(theirs.stdout.split('\n')[0]);
    expect(ours.stdout).toMatch(/\s+100000\s+2\s+udp\s+111\s+portmapper/);
  });

  it('clients find the server through rpcbind: the TypeScript client and a C client (clnt_create)', async () => {
    const port = await resolvePort('127.0.0.1', CounterProgV1.program, 1, 'udp');
    expect(port).toBe(server.port('udp'));
    const c = await RpcClient.connect({ host: '127.0.0.1', port: await resolvePort('127.0.0.1', CounterProgV1.program, 1, 'tcp'), transport: 'tcp' });
    expect(await new CounterProgV1Client(c).increment(3)).toBe(3n);
    await c.close();
    const call = await cliAsync(['rpc', 'call', '--x', join(root, 'core/rpc/programs/counter.x'), '127.0.0.1', 'COUNTER_PROG', 'COUNTER_V1', 'GET']);
    expect(call.stdout.trim()).toBe('"3"');
    if (cDir === '') return; // no C toolchain: rpc-interop.test.ts reported it
    for (const proto of ['udp', 'tcp']) {
      const r = await sh(join(cDir, 'types_client'), ['127.0.0.1', 'rpcbind', proto]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('match');
    }
    expect(TypesProgV1.program).toBe(0x20000103);
  });

  /** Rows of `rpcinfo` (no -p): program, version, netid, address, owner (service names differ: ours knows the lab's). */
  const rpcbRows = (text: string) =>
    text
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => {
        const c = l.trim().split(/\s+/);
        return `${c[0]} ${c[1]} ${c[2]} ${c[3]} ${c[c.length - 1]}`;
      })
      .sort();
  const entryRows = (es: RpcbEntry[]) => es.map((e) => `${e.program} ${e.version} ${e.netid} ${e.address} ${e.owner}`).sort();

  it('the stubs packetlab rpcgen writes from rpcb_prot.x call rpcbind 3 and 4: DUMP, GETADDR and GETTIME agree with rpcinfo', async () => {
    const theirs = await sh(rpcinfoPath!, ['127.0.0.1']);
    expect(theirs.code).toBe(0);
    const rows = rpcbRows(theirs.stdout);
    expect(rows).toContain(`${CounterProgV1.program} 1 udp ${universalAddress('0.0.0.0', server.port('udp')!)} unknown`);
    // The generated client classes themselves, over TCP (a DUMP reply is large), versions 3 and 4.
    const tcp = await RpcClient.connect({ host: '127.0.0.1', port: 111, transport: 'tcp' });
    try {
      expect(entryRows(fromRpcblist(await new RpcbprogV4Client(tcp).rpcbprocDump()))).toEqual(rows);
      expect(entryRows(fromRpcblist(await new RpcbprogV3Client(tcp).rpcbprocDump()))).toEqual(rows);
    } finally {
      await tcp.close();
    }
    expect(entryRows(await rpcbDump('127.0.0.1', 3))).toEqual(rows);
    // GETADDR answers with the address as the caller reaches it, as rpcinfo -l shows it.
    const list = await sh(rpcinfoPath!, ['-l', '127.0.0.1', String(CounterProgV1.program), '1']);
    const lAddr = (family: string) => list.stdout.split('\n').find((l) => l.includes(family))!.trim().split(/\s+/)[3]!;
    for (const version of [3, 4] as const) {
      expect(await rpcbGetAddr('127.0.0.1', { program: CounterProgV1.program, version: 1, netid: 'udp' }, version)).toBe(lAddr('inet/udp'));
      expect(await rpcbGetAddr('127.0.0.1', { program: CounterProgV1.program, version: 1, netid: 'tcp' }, version)).toBe(lAddr('inet/tcp'));
      expect(parseUniversalAddress(lAddr('inet/tcp'))).toEqual({ host: '127.0.0.1', port: server.port('tcp') });
      expect(await rpcbGetAddr('127.0.0.1', { program: 0x3fffff01, version: 1, netid: 'udp' }, version)).toBe('');
      const before = Math.floor(Date.now() / 1000);
      const t = await rpcbGetTime('127.0.0.1', version);
      expect(t).toBeGreaterThanOrEqual(before - 1);
      expect(t).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 1);
    }
  });

  it('packetlab rpcinfo lists netids and universal addresses as rpcinfo does, and asks by netid', async () => {
    const ours = await cliAsync(['rpcinfo']);
    const theirs = await sh(rpcinfoPath!, []);
    expect(ours.code).toBe(0);
    expect(ours.stdout.split('\n')[0]).toBe(theirs.stdout.split('\n')[0]);
    expect(rpcbRows(ours.stdout)).toEqual(rpcbRows(theirs.stdout));
    // Lines rpcinfo names alike are alike to the byte.
    const portmapper = (text: string) => text.split('\n').filter((l) => /\sportmapper\s/.test(l));
    expect(portmapper(ours.stdout)).toEqual(portmapper(theirs.stdout));
    const udp = await cliAsync(['rpcinfo', '-T', 'udp']);
    expect(rpcbRows(udp.stdout)).toEqual(rpcbRows(theirs.stdout).filter((r) => r.split(' ')[2] === 'udp'));
    const addr = await cliAsync(['rpcinfo', '127.0.0.1', String(CounterProgV1.program), '1', '-T', 'tcp', '--json']);
    expect(JSON.parse(addr.stdout)).toEqual({ type: 'address', program: CounterProgV1.program, version: 1, netid: 'tcp', address: universalAddress('127.0.0.1', server.port('tcp')!), host: '127.0.0.1', port: server.port('tcp') });
    const none = await cliAsync(['rpcinfo', '127.0.0.1', '1073741569', '1', '-T', 'udp']);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('packetlab: program 1073741569 version 1 is not registered on udp with rpcbind at 127.0.0.1:111\n');
  });

  it('packetlab rpc call --x reads rpcb_prot.x and calls rpcbind 4', async () => {
    const x = existsSync('/usr/include/tirpc/rpc/rpcb_prot.x') ? '/usr/include/tirpc/rpc/rpcb_prot.x' : join(root, 'core/rpc/rpcb_prot.x');
    const args = JSON.stringify({ r_prog: CounterProgV1.program, r_vers: 1, r_netid: 'udp', r_addr: '', r_owner: '' });
    const getaddr = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', 'RPCBPROG', 'RPCBVERS4', 'RPCBPROC_GETADDR', args, '--port', '111']);
    expect(getaddr.stderr).toBe('');
    expect(JSON.parse(getaddr.stdout)).toBe(universalAddress('127.0.0.1', server.port('udp')!));
    const dump = await cliAsync(['rpc', 'call', '--x', x, '127.0.0.1', '100000', '3', 'RPCBPROC_DUMP', '--port', '111', '--transport', 'tcp']);
    expect(dump.stdout).toContain(`"r_prog": ${CounterProgV1.program}`);
  });

  it.skipIf(rstatSkip !== null)("the stubs packetlab rpcgen writes from rstat.x call Debian's rpc.rstatd; its counters agree with rsysinfo's", async () => {
    const RSTATPROG = 100001;
    const RSTATD = '/usr/sbin/rpc.rstatd';
    // rpc.rstatd forks into the background: the daemons started here are the ones that were not there before.
    let started: number[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'rpc-rstat-'));
    try {
      if ((await rpcbGetAddr('127.0.0.1', { program: RSTATPROG, version: 3, netid: 'udp' })) === '') {
        // Debian runs it from inetd; alone it registers versions 1, 2, 3 and 5 on UDP and serves.
        const before = new Set(pidsOf(RSTATD));
        spawn(RSTATD, [], { stdio: 'ignore' });
        await until('rpc.rstatd to register with rpcbind', async () => (await rpcbGetAddr('127.0.0.1', { program: RSTATPROG, version: 3, netid: 'udp' })) !== '', 10_000, 100);
        started = pidsOf(RSTATD).filter((pid) => !before.has(pid));
      }
      mkdirSync(join(dir, 'ts'));
      writeFileSync(join(dir, 'ts', 'package.json'), '{ "type": "module" }\n');
      const out = runRpcgen('/usr/include/rpcsvc/rstat.x', join(dir, 'ts'), join(root, 'core/rpc/stub-runtime.js'));
      type Stats = { cp_time: number[]; v_pgpgin: number; v_intr: number; v_swtch: number; boottime: { tv_sec: number }; curtime?: { tv_sec: number } };
      type RstatClient = { rstatprocStats(): Promise<Stats>; rstatprocHavedisk(): Promise<number> };
      const mod = (await import(out)) as Record<string, new (rpc: RpcClient) => RstatClient>;
      const rpc = await RpcClient.connect({ host: '127.0.0.1', port: await resolvePort('127.0.0.1', RSTATPROG, 3, 'udp'), transport: 'udp' });
      const rsysinfo = async () => {
        const r = await sh('rsysinfo', ['localhost']);
        const n = (re: RegExp) => Number(re.exec(r.stdout)![1]);
        return { user: n(/user (\d+)/), system: n(/system (\d+)/), pagein: n(/page in: (\d+)/), intr: n(/intr: (\d+)/), swtch: n(/context switches: (\d+)/) };
      };
      try {
        const before = await rsysinfo();
        const v3 = await new mod.RstatprogV3Client!(rpc).rstatprocStats();
        const v2 = await new mod.RstatprogV2Client!(rpc).rstatprocStats();
        const after = await rsysinfo();
        // The same daemon answers both clients: each counter the lab decoded lies between the ones rsysinfo read before and after.
        for (const [name, ours, lo, hi] of [
          ['cpu user', v3.cp_time[0]!, before.user, after.user],
          ['cpu system', v3.cp_time[2]!, before.system, after.system],
          ['page in', v3.v_pgpgin, before.pagein, after.pagein],
          ['interrupts', v3.v_intr, before.intr, after.intr],
          ['context switches', v2.v_swtch, before.swtch, after.swtch],
        ] as const) {
          expect(ours, name).toBeGreaterThanOrEqual(lo);
          expect(ours, name).toBeLessThanOrEqual(hi);
        }
        const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))![1]);
        expect(Math.abs(v3.boottime.tv_sec - btime)).toBeLessThanOrEqual(1);
        expect(v2.boottime.tv_sec).toBe(v3.boottime.tv_sec);
        expect(Math.abs(v3.curtime!.tv_sec - Date.now() / 1000)).toBeLessThan(5);
        expect([0, 1]).toContain(await new mod.RstatprogV3Client!(rpc).rstatprocHavedisk());
      } finally {
        await rpc.close();
      }
    } finally {
      if (started.length > 0) {
        for (const pid of started) process.kill(pid, 'SIGTERM');
        await until('the rpc.rstatd started here to exit', () => started.every((pid) => !existsSync(`/proc/${pid}`)), 10_000, 50);
        // It leaves its registrations behind when killed: take back those it made.
        for (const v of [1, 2, 3, 4, 5]) await sh(rpcinfoPath!, ['-d', String(RSTATPROG), String(v)]);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("packetlab rpc serve-demo finds rpcbind by itself, leaves another server's mappings alone, and removes none of them on Ctrl-C", async () => {
    const child = spawn(process.execPath, [join(root, 'bin/packetlab.js'), 'rpc', 'serve-demo', '--json', '--stats-interval', '0', '--no-plt'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout! });
    const reg2 = await new Promise<Record<string, unknown>>((resolve, reject) => {
      lines.on('line', (l) => {
        const o = JSON.parse(l) as Record<string, unknown>;
        if (o.type === 'registered') resolve(o);
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => reject(new Error(`serve-demo exited with ${code}: ${stderr}`)));
    });
    expect(reg2).toMatchObject({ binder: 'rpcbind', binderPort: 111, startedBinder: false });
    // This file's server registered the same programs and answers: serve-demo does not take them over.
    expect((reg2.skipped as { program: number }[]).map((k) => k.program)).toContain(CounterProgV1.program);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    // Nor does it remove them when it leaves: rpcbind still sends callers to this file's server.
    const r = await sh(rpcinfoPath!, ['-p', '127.0.0.1']);
    expect(r.stdout).toMatch(new RegExp(`\\s${CounterProgV1.program}\\s+1\\s+udp\\s+${server.port('udp')}\\s`));
  });
});

describe('universal addresses (RFC 1833 (2.2))', () => {
  it('reads and writes inet and inet6 addresses, and refuses the rest', () => {
    expect(parseUniversalAddress('127.0.0.1.0.111')).toEqual({ host: '127.0.0.1', port: 111 });
    expect(parseUniversalAddress('::.162.211')).toEqual({ host: '::', port: 41683 });
    expect(parseUniversalAddress('fe80::1.255.255')).toEqual({ host: 'fe80::1', port: 65535 });
    expect(universalAddress('0.0.0.0', 41683)).toBe('0.0.0.0.162.211');
    for (const bad of ['/run/rpcbind.sock', '127.0.0.1.256.1', '300.0.0.1.0.1', 'host.0.1', '', '1.2.3.4']) expect(parseUniversalAddress(bad)).toBeNull();
  });
});
