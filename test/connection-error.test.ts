// The text of each connection error is what the CLI prints, CSV files keep and an RST carries to
// the peer: it is pinned here so that the typed union cannot drift from what users already see.

import { describe, expect, it } from 'vitest';
import { describeConnectionError } from '../core/transport/error.js';

describe('describeConnectionError', () => {
  it('renders each kind as the connection always worded it', () => {
    expect(describeConnectionError({ kind: 'idle-timeout', idleTimeoutMs: 30000 })).toBe('no datagram from the peer for 30000 ms (idle timeout)');
    expect(describeConnectionError({ kind: 'handshake-timeout', packet: 'SYN', attempts: 4 })).toBe('no answer to SYN after 4 attempts (is a packetlab listener running there?)');
    expect(describeConnectionError({ kind: 'handshake-timeout', packet: 'SYN-ACK', attempts: 2 })).toBe('no answer to SYN-ACK after 2 attempts (is a packetlab listener running there?)');
    expect(describeConnectionError({ kind: 'retransmit-limit', seq: 17, retransmissions: 4, maxRetransmissions: 4 })).toBe('packet 17 was retransmitted 4 times without an acknowledgment (max 4)');
    expect(describeConnectionError({ kind: 'reset-by-peer', reason: 'stopped by the user' })).toBe('reset by peer: stopped by the user');
    expect(describeConnectionError({ kind: 'reset-by-peer', reason: '' })).toBe('reset by peer: no reason given');
    expect(describeConnectionError({ kind: 'aborted', reason: 'stopped by the user' })).toBe('stopped by the user');
  });
});
