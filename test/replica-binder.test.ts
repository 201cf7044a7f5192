// The binder's replica list: rpcbind version 4 GETADDRLIST over a ReplicaDirectory.

import { describe, expect, it } from 'vitest';
import { RpcClientEngine, RpcStatus } from '../core/rpc/client.js';
import { RpcServerEngine } from '../core/rpc/server.js';
import { RpcbprogV4, type RpcbEntryListPtr } from '../core/rpc/rpcb_prot.js';
import { ReplicaDirectory, addressesOf, parseUniversalAddress, rpcbProgram, simHostAddress, simHostOf, universalAddress } from '../core/rpc/replicas/directory.js';
import type { ProcedureDescriptor } from '../core/rpc/program.js';
import { pmapCall, registerReplica, replicaRegistration, startLabBinder, unregisterReplica } from '../net/rpc/binder.js';

const COUNTER = 0x20000102;

function reg(addr: string, netid = 'udp') {
  return { r_prog: COUNTER, r_vers: 1, r_netid: netid, r_addr: addr, r_owner: 'test' };
}

describe('replica directory', () => {
  it('formats and parses universal addresses (RFC 1833 2.1)', () => {
    expect(universalAddress('10.0.0.2', 9000)).toBe('10.0.0.2.35.40');
    expect(parseUniversalAddress('10.0.0.2.35.40')).toEqual({ host: '10.0.0.2', port: 9000 });
    for (const bad of ['10.0.0.2', '10.0.0.2.35', '10.0.0.256.1.1', 'a.b.c.d.e.f', '10.0.0.2.0.0']) expect(parseUniversalAddress(bad)).toBeNull();
    expect(simHostOf(simHostAddress(3))).toBe(3);
    expect(simHostOf('192.168.1.1')).toBeNull();
  });

  it('holds several servers of one program version, refuses duplicates and bad addresses, unsets by address', () => {
    const d = new ReplicaDirectory();
    expect(d.set(reg('10.0.0.2.35.40'))).toBe(true);
    expect(d.set(reg('10.0.0.3.35.40'))).toBe(true);
    expect(d.set(reg('10.0.0.3.35.40'))).toBe(false);
    expect(d.set(reg('not an address'))).toBe(false);
    expect(d.set(reg('10.0.0.4.35.40', 'tcp'))).toBe(true);
    expect(d.addresses(COUNTER, 1, 'udp')).toEqual(['10.0.0.2.35.40', '10.0.0.3.35.40']);
    expect(d.unset(reg('10.0.0.2.35.40'))).toBe(true);
    expect(d.addresses(COUNTER, 1, 'udp')).toEqual(['10.0.0.3.35.40']);
    expect(d.unset({ ...reg(''), r_netid: '' })).toBe(true);
    expect(d.addresses(COUNTER, 1, 'tcp')).toEqual([]);
  });

  it('answers RPCBPROC_GETADDRLIST with every replica, in registration order, over RPC', () => {
    const d = new ReplicaDirectory();
    for (const h of [1, 2, 3]) d.set(reg(universalAddress(simHostAddress(h), 9000)));
    const server = new RpcServerEngine({ programs: [rpcbProgram(d)], drc: { enabled: true, maxEntries: 16, maxAgeMs: 1000 } });
    const client = new RpcClientEngine({ server: 1, policy: { timeoutMs: 1000, retryIntervalMs: 100, retryBackoff: 1, retryIntervalMsMax: 100, maxRetransmissions: 3 }, retransmit: true, rngSeed: 7 });
    const call = client.call(0, RpcbprogV4.procedures.RPCBPROC_GETADDRLIST as ProcedureDescriptor<unknown, unknown>, reg(''));
    server.handleDatagram(1, client.pollTransmit(0)!, 0);
    client.handleDatagram(2, server.pollTransmit()!, 1);
    expect(call.status).toBe(RpcStatus.SUCCESS);
    const hosts = addressesOf(call.result as RpcbEntryListPtr).map((a) => simHostOf(parseUniversalAddress(a)!.host));
    expect(hosts).toEqual([1, 2, 3]);
  });
});

describe('the lab binder on loopback', () => {
  it('takes replica registrations (rpcbind v4 SET), lists them with GETADDRLIST, and takes them back', async () => {
    const binder = await startLabBinder('127.0.0.1', 0);
    try {
      const a = replicaRegistration(COUNTER, 1, 40001, 'replica1');
      const b = replicaRegistration(COUNTER, 1, 40002, 'replica2');
      expect(await registerReplica(binder.port, a)).toBe(true);
      expect(await registerReplica(binder.port, b)).toBe(true);
      expect(await registerReplica(binder.port, a)).toBe(false);
      const list = await pmapCall('127.0.0.1', binder.port, RpcbprogV4.procedures.RPCBPROC_GETADDRLIST, reg(''));
      expect(addressesOf(list).map((u) => parseUniversalAddress(u))).toEqual([
        { host: '127.0.0.1', port: 40001 },
        { host: '127.0.0.1', port: 40002 },
      ]);
      expect(await unregisterReplica(binder.port, a)).toBe(true);
      expect(binder.directory.addresses(COUNTER, 1, 'udp')).toEqual([universalAddress('127.0.0.1', 40002)]);
    } finally {
      await binder.close();
    }
  });
});
