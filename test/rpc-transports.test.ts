// The RPC transport registry: each transport is one entry in core/rpc/transports.ts (what it is and
// its sans-IO client and server sides) and one socket module in net/rpc/transports/, and nothing
// else in the lab names a transport to decide what to do.

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { IMPAIRMENT_STAGES, NO_IMPAIRMENT, isTransparent } from '../core/impair/config.js';
import { IMPAIRMENT_KNOBS } from '../core/knobs.js';
import { protocolName, protocolNumber } from '../core/rpc/portmap.js';
import { RPC_TRANSPORT, RPC_TRANSPORTS, SIM_RPC_TRANSPORTS, rpcTransportProblems, transportOfProtocol } from '../core/rpc/transports.js';
import { SOCKET_TRANSPORTS } from '../net/rpc/transports/registry.js';
import { RpcServer } from '../net/rpc/server-net.js';
import { RpcClient } from '../net/rpc/client-net.js';
import { CounterService } from '../core/rpc/programs/counter-server.js';
import { CounterProgV1, CounterProgV1Client } from '../core/rpc/programs/counter.js';
import { DEFAULT_RPC_SETUP, runSimRpcWorkload } from '../workloads/rpc/workload.js';
import { ROOT } from './helpers/stage-app.js';
import { sources } from './helpers/sources.js';


describe('the RPC transport registry', () => {
  it('gives every transport its socket module and a protocol number of its own', () => {
    expect(Object.keys(SOCKET_TRANSPORTS).sort()).toEqual([...RPC_TRANSPORTS].sort());
    for (const t of RPC_TRANSPORTS) {
      expect(transportOfProtocol(protocolNumber(t))).toBe(t);
      expect(protocolName(protocolNumber(t))).toBe(t);
    }
    expect(protocolName(99)).toBe('99');
    expect(transportOfProtocol(99)).toBeNull();
  });

  it('names what is wrong with a transport: an unknown name, a stream in the simulator, impairments a stream cannot carry', () => {
    expect(rpcTransportProblems('sctp', 'udp', NO_IMPAIRMENT, NO_IMPAIRMENT)).toEqual(['transport must be udp, tcp or plt (got sctp)']);
    expect(rpcTransportProblems('tcp', 'sim', NO_IMPAIRMENT, NO_IMPAIRMENT)).toEqual(['transport tcp needs real sockets: the simulator carries datagrams (use udp or plt)']);
    expect(rpcTransportProblems('tcp', 'udp', NO_IMPAIRMENT, { ...NO_IMPAIRMENT, lossProbability: 0.1 })).toEqual([expect.stringMatching(/^--loss \(reverse\) does not apply to --transport tcp/)]);
    for (const t of RPC_TRANSPORTS) expect(rpcTransportProblems(t, 'udp', NO_IMPAIRMENT, NO_IMPAIRMENT)).toEqual([]);
  });

  it('refuses, naming its flag, every impairment stage a stream transport cannot carry, and none it can', () => {
    const on = (key: (typeof IMPAIRMENT_STAGES)[number]['key']) => ({ ...NO_IMPAIRMENT, [key]: key === 'mtuBytes' ? 500 : key.endsWith('Probability') || key === 'burstLossGood' ? 0.1 : 10 });
    for (const s of IMPAIRMENT_STAGES) {
      const c = on(s.key);
      expect(isTransparent(c), s.key).toBe(false);
      const flag = IMPAIRMENT_KNOBS.find((k) => k.key === s.key)!.flag;
      const problems = rpcTransportProblems('tcp', 'udp', c, NO_IMPAIRMENT);
      if (s.stream) expect(problems, s.key).toEqual([]);
      else expect(problems, s.key).toEqual([expect.stringMatching(new RegExp(`^--${flag} does not apply to --transport tcp`))]);
      expect(rpcTransportProblems('udp', 'udp', c, c), s.key).toEqual([]);
    }
    expect(isTransparent(NO_IMPAIRMENT)).toBe(true);
  });

  it('runs every datagram transport in the simulator under loss, with each call answered once', () => {
    expect(SIM_RPC_TRANSPORTS).toEqual(RPC_TRANSPORTS.filter((t) => RPC_TRANSPORT[t].datagrams));
    for (const transport of SIM_RPC_TRANSPORTS) {
      const lossy = { ...NO_IMPAIRMENT, lossProbability: 0.1, delayMsMean: 5 };
      // Retries often and long enough that no call runs out of time.
      const policy = { ...DEFAULT_RPC_SETUP.policy, timeoutMs: 60_000, retryIntervalMs: 500, retryBackoff: 1, maxRetransmissions: 100 };
      const s = runSimRpcWorkload({ ...DEFAULT_RPC_SETUP, transport, policy, totalCalls: 300, forward: lossy, reverse: lossy, seed: 4 });
      expect(s.status, transport).toBe('complete');
      expect(s.callsSucceeded, transport).toBe(300);
      // The counter counts executions: the cache (or the transport) keeps retried calls from running twice.
      expect(s.counterIncrements, transport).toBe(300);
    }
  });

  it('serves and calls every transport on loopback sockets', async () => {
    const counter = new CounterService();
    const server = await RpcServer.start({ programs: [counter.program()], ports: Object.fromEntries(RPC_TRANSPORTS.map((t) => [t, 0])) });
    try {
      expect(server.transports()).toEqual([...RPC_TRANSPORTS]);
      for (const transport of RPC_TRANSPORTS) {
        const c = await RpcClient.connect({ host: '127.0.0.1', port: server.port(transport)!, transport, seed: 1 });
        try {
          expect(await new CounterProgV1Client(c).increment(1), transport).toBeGreaterThan(0n);
          await c.ping(CounterProgV1.program, CounterProgV1.version);
        } finally {
          await c.close();
        }
      }
      expect(counter.increments).toBe(RPC_TRANSPORTS.length);
    } finally {
      await server.close();
    }
  });

  it('is the only place that decides by a transport\'s name', () => {
    const offenders: string[] = [];
    for (const dir of ['core', 'net', 'workloads', 'experiments', 'cli', 'electron', 'renderer/src']) {
      for (const f of sources(join(ROOT, dir))) {
        const rel = relative(ROOT, f);
        if (rel === 'core/rpc/transports.ts' || rel.startsWith('net/rpc/transports/')) continue;
        const text = readFileSync(f, 'utf8');
        for (const m of text.matchAll(/(transport|\bt)\s*[!=]==\s*'(udp|tcp|plt)'|\['udp',\s*'tcp'|'plt'\s*[,\]:]/gi)) offenders.push(`${rel}: ${m[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
