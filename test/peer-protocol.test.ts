// The peer agent's control channel, sans-IO: handshake, MACs, counters, caps on frames, and
// random input that must never throw out of the parser.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  AgentChannel,
  ClientChannel,
  MAX_FRAME_DEPTH,
  MAX_HANDSHAKE_FRAME_BYTES,
  MAX_REQUEST_FRAME_BYTES,
  NONCE_BYTES,
  canonicalJson,
  deriveSessionKeys,
  encodeFrame,
  tokenProblem,
  type ChannelError,
} from '../core/peer/protocol.js';
import { DEFAULT_PEER_CAPS } from '../core/peer/caps.js';
import type { Request } from '../core/peer/messages.js';

const TOKEN = 'correct horse battery staple';
const enc = new TextEncoder();

function nonce(fill: number): Uint8Array {
  return new Uint8Array(NONCE_BYTES).fill(fill);
}

function agentChannel(token = TOKEN, fill = 2): AgentChannel {
  return new AgentChannel({ token, nonce: nonce(fill), software: 'packetlab test', welcome: { name: 'agent', software: 'packetlab test', caps: { ...DEFAULT_PEER_CAPS } } });
}

function clientChannel(token = TOKEN, fill = 1): ClientChannel {
  return new ClientChannel({ token, nonce: nonce(fill), name: 'client', software: 'packetlab test' });
}

function drain(ch: { pollTransmit(): string | null }): string[] {
  const out: string[] = [];
  for (let l = ch.pollTransmit(); l !== null; l = ch.pollTransmit()) out.push(l);
  return out;
}

function events<T>(ch: { pollEvent(): T | null }): T[] {
  const out: T[] = [];
  for (let e = ch.pollEvent(); e !== null; e = ch.pollEvent()) out.push(e);
  return out;
}

function feed(ch: { handleBytes(b: Uint8Array): void }, lines: string[]): void {
  for (const l of lines) ch.handleBytes(enc.encode(l));
}

/** Runs the handshake to the end; returns both channels, open, with their events drained. Same nonces, same keys. */
function openPair(agentNonceFill = 2): { client: ClientChannel; agent: AgentChannel } {
  const client = clientChannel();
  const agent = agentChannel(TOKEN, agentNonceFill);
  client.start();
  for (let i = 0; i < 4; i++) {
    feed(agent, drain(client));
    feed(client, drain(agent));
  }
  expect(client.state).toBe('open');
  expect(agent.state).toBe('open');
  events(client);
  events(agent);
  return { client, agent };
}

function failure(ch: { pollEvent(): { type: string; error?: ChannelError } | null }): ChannelError | null {
  for (const e of events(ch)) if (e.type === 'failed') return e.error!;
  return null;
}

const ping = (id: number): Request => ({ type: 'ping', id });

describe('peer control channel: handshake', () => {
  it('opens a session, and requests and results pass in both directions', () => {
    const client = clientChannel();
    const agent = agentChannel();
    client.start();
    const hello = drain(client);
    expect(hello).toHaveLength(1);
    expect(JSON.parse(hello[0]!)).toEqual({ v: 1, hello: { nonce: '01'.repeat(NONCE_BYTES), software: 'packetlab test' } });
    feed(agent, hello);
    const challenge = drain(agent);
    expect(JSON.parse(challenge[0]!).challenge.nonce).toBe('02'.repeat(NONCE_BYTES));
    feed(client, challenge);
    const auth = drain(client);
    expect(JSON.parse(auth[0]!)).toMatchObject({ v: 1, seq: 1, msg: { type: 'auth', name: 'client' } });
    feed(agent, auth);
    expect(events(agent)).toEqual([{ type: 'established', hello: { type: 'auth', name: 'client' } }]);
    feed(client, drain(agent));
    const est = events(client);
    expect(est).toHaveLength(1);
    expect(est[0]).toMatchObject({ type: 'established', hello: { type: 'welcome', name: 'agent', caps: DEFAULT_PEER_CAPS } });

    client.send({ type: 'start-listener', id: 7, socket: { socketRcvBufBytes: 4096 }, limits: { maxSessions: 2 } });
    feed(agent, drain(client));
    expect(events(agent)).toEqual([{ type: 'message', message: { type: 'start-listener', id: 7, socket: { socketRcvBufBytes: 4096 }, limits: { maxSessions: 2 } } }]);
    agent.send({ type: 'result', id: 7, ok: false, error: 'no' });
    agent.send({ type: 'event', service: 3, name: 'service-ended', peer: null, connectionId: null, reason: 'lifetime' });
    feed(client, drain(agent));
    expect(events(client)).toEqual([
      { type: 'message', message: { type: 'result', id: 7, ok: false, error: 'no' } },
      { type: 'message', message: { type: 'event', service: 3, name: 'service-ended', peer: null, connectionId: null, reason: 'lifetime' } },
    ]);
  });

  it('works when the bytes arrive one at a time', () => {
    const client = clientChannel();
    const agent = agentChannel();
    client.start();
    const byteByByte = (to: { handleBytes(b: Uint8Array): void }, lines: string[]) => {
      for (const b of enc.encode(lines.join(''))) to.handleBytes(Uint8Array.of(b));
    };
    for (let i = 0; i < 3; i++) {
      byteByByte(agent, drain(client));
      byteByByte(client, drain(agent));
    }
    expect(client.state).toBe('open');
    expect(agent.state).toBe('open');
    events(agent);
    client.send(ping(1));
    client.send(ping(2));
    byteByByte(agent, drain(client));
    expect(events(agent)).toEqual([
      { type: 'message', message: ping(1) },
      { type: 'message', message: ping(2) },
    ]);
  });

  it('refuses a wrong token: the agent says so, the client reports it', () => {
    const client = clientChannel('not the right token');
    const agent = agentChannel();
    client.start();
    feed(agent, drain(client));
    feed(client, drain(agent));
    feed(agent, drain(client));
    expect(agent.state).toBe('failed');
    expect(failure(agent)).toMatchObject({ code: 'bad-token' });
    const refusal = drain(agent);
    expect(refusal).toHaveLength(1);
    expect(JSON.parse(refusal[0]!)).toEqual({ v: 1, refused: { code: 'token', message: 'the agent refused the token' } });
    feed(client, refusal);
    expect(failure(client)).toMatchObject({ code: 'token-refused' });
  });

  it('the client notices an agent that does not know the token (its welcome fails the MAC)', () => {
    const client = clientChannel();
    const impostor = agentChannel('some other token value');
    client.start();
    feed(impostor, drain(client));
    feed(client, drain(impostor));
    // The impostor cannot check the client's auth frame either; a real impostor would answer anyway.
    const keys = deriveSessionKeys('some other token value', nonce(1), nonce(2));
    feed(client, [encodeFrame(keys.agentToClient, 1, { type: 'welcome', name: 'x', software: 'y', caps: DEFAULT_PEER_CAPS })]);
    expect(failure(client)).toMatchObject({ code: 'bad-mac', message: expect.stringContaining('does not know the token') });
  });

  it('refuses another protocol version with a refusal that says so', () => {
    const agent = agentChannel();
    agent.handleBytes(enc.encode(`${JSON.stringify({ v: 2, hello: { nonce: '01'.repeat(32), software: 'future' } })}\n`));
    expect(failure(agent)).toMatchObject({ code: 'version' });
    const r = JSON.parse(drain(agent)[0]!);
    expect(r.refused.code).toBe('version');
    const client = clientChannel();
    client.start();
    client.handleBytes(enc.encode(`${JSON.stringify(r)}\n`));
    expect(failure(client)).toMatchObject({ code: 'version', message: expect.stringContaining('version 1') });
  });

  it('a refusal before the hello is answered (agent busy) reaches the client as refused', () => {
    const agent = agentChannel();
    agent.refuse('busy', 'the agent already serves 4 clients');
    const client = clientChannel();
    client.start();
    feed(client, drain(agent));
    expect(failure(client)).toEqual({ code: 'refused', message: 'the agent already serves 4 clients' });
  });

  it('each session derives fresh keys, one per direction', () => {
    const a = deriveSessionKeys(TOKEN, nonce(1), nonce(2));
    const b = deriveSessionKeys(TOKEN, nonce(1), nonce(3));
    expect(a.clientToAgent.equals(a.agentToClient)).toBe(false);
    expect(a.clientToAgent.equals(b.clientToAgent)).toBe(false);
    expect(deriveSessionKeys(TOKEN, nonce(1), nonce(2)).clientToAgent.equals(a.clientToAgent)).toBe(true);
  });

  it('tokens shorter than 8 characters are refused', () => {
    expect(tokenProblem('short')).toMatch(/at least 8 characters/);
    expect(tokenProblem('long enough')).toBeNull();
  });
});

describe('peer control channel: what is rejected', () => {
  it('a tampered frame fails the MAC and ends the session', () => {
    const { client, agent } = openPair();
    client.send({ type: 'stop', id: 5, service: 1 });
    const line = drain(client)[0]!;
    const tampered = line.replace('"service":1', '"service":2');
    expect(tampered).not.toBe(line);
    feed(agent, [tampered]);
    expect(failure(agent)).toMatchObject({ code: 'bad-mac' });
    // Nothing more is accepted once the session failed.
    client.send(ping(6));
    feed(agent, drain(client));
    expect(events(agent)).toEqual([]);
  });

  it('a replayed frame is rejected', () => {
    const { client, agent } = openPair();
    client.send(ping(1));
    const line = drain(client)[0]!;
    feed(agent, [line]);
    expect(events(agent)).toEqual([{ type: 'message', message: ping(1) }]);
    feed(agent, [line]);
    expect(failure(agent)).toMatchObject({ code: 'replayed', message: expect.stringContaining('counter 2 was already used') });
  });

  it('reordered frames are rejected (a counter that skips ahead)', () => {
    const { client, agent } = openPair();
    client.send(ping(1));
    client.send(ping(2));
    const [first, second] = drain(client);
    feed(agent, [second!]);
    expect(failure(agent)).toMatchObject({ code: 'out-of-order' });
    expect(first).toBeDefined();
  });

  it("a frame of another session does not pass, nor the agent's own frame reflected back", () => {
    const s1 = openPair();
    s1.client.send(ping(1));
    const old = drain(s1.client);
    const s2 = openPair(3);
    feed(s2.agent, old);
    expect(failure(s2.agent)).toMatchObject({ code: 'bad-mac' });

    const s3 = openPair();
    s3.agent.send({ type: 'result', id: 1, ok: true, value: {} });
    const own = drain(s3.agent);
    const s4 = openPair();
    s4.agent.handleBytes(enc.encode(own[0]!));
    expect(failure(s4.agent)).toMatchObject({ code: 'bad-mac' });
  });

  it('an oversized frame is rejected before it is buffered whole', () => {
    const { agent } = openPair();
    const big = new Uint8Array(MAX_REQUEST_FRAME_BYTES + 10).fill(0x61);
    agent.handleBytes(big.subarray(0, 40_000));
    expect(agent.state).toBe('open');
    agent.handleBytes(big.subarray(40_000));
    expect(failure(agent)).toMatchObject({ code: 'oversized', message: expect.stringContaining(`${MAX_REQUEST_FRAME_BYTES} bytes`) });

    const fresh = agentChannel();
    fresh.handleBytes(new Uint8Array(MAX_HANDSHAKE_FRAME_BYTES + 1).fill(0x20));
    expect(failure(fresh)).toMatchObject({ code: 'oversized' });
  });

  it.each([
    ['not JSON', '{"v":1,', 'malformed', 'not JSON'],
    ['a blank line', '', 'malformed', 'empty frame'],
    ['deep nesting', `${'['.repeat(MAX_FRAME_DEPTH + 1)}${']'.repeat(MAX_FRAME_DEPTH + 1)}`, 'malformed', 'nested deeper'],
    ['a JSON array', '[1,2]', 'invalid', 'not a JSON object'],
    ['an unauthenticated request', '{"v":1,"msg":{"type":"ping","id":1}}', 'invalid', 'not an authenticated frame'],
    ['a frame without its MAC', '{"v":1,"seq":1,"msg":{"type":"ping","id":1}}', 'invalid', 'mac'],
    ['a MAC that is not hex', `{"v":1,"seq":1,"msg":{"type":"ping","id":1},"mac":"${'z'.repeat(64)}"}`, 'invalid', 'mac'],
    ['a forged MAC', `{"v":1,"seq":1,"msg":{"type":"ping","id":1},"mac":"${'0'.repeat(64)}"}`, 'bad-mac', 'MAC mismatch'],
  ])('%s is rejected with a clear error', (_name, line, code, text) => {
    const { agent } = openPair();
    agent.handleBytes(enc.encode(`${line}\n`));
    const e = failure(agent);
    expect(e?.code).toBe(code);
    expect(e?.message).toContain(text);
  });

  it('bytes that are not UTF-8 are rejected', () => {
    const { agent } = openPair();
    agent.handleBytes(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d, 0x0a));
    expect(failure(agent)).toEqual({ code: 'malformed', message: 'frame is not valid UTF-8' });
  });

  it('an authenticated message that fails its schema is reported with its id, and the session stays open', () => {
    const { client, agent } = openPair();
    (client as unknown as { sendAuthed(m: unknown): void }).sendAuthed({ type: 'start-listener', id: 9, socket: { socketRcvBufBytes: -1 }, bogus: true });
    (client as unknown as { sendAuthed(m: unknown): void }).sendAuthed({ type: 'launch-missiles', id: 10 });
    client.send(ping(11));
    feed(agent, drain(client));
    const ev = events(agent);
    expect(ev).toHaveLength(3);
    expect(ev[0]).toMatchObject({ type: 'invalid', id: 9, error: { code: 'invalid' } });
    const m0 = (ev[0] as { error: ChannelError }).error.message;
    expect(m0).toContain('invalid start-listener request');
    expect(m0).toContain('socket.socketRcvBufBytes');
    expect(m0).toContain('bogus');
    expect(ev[1]).toMatchObject({ type: 'invalid', id: 10 });
    expect(ev[2]).toEqual({ type: 'message', message: ping(11) });
    expect(agent.state).toBe('open');
  });

  it('a request before the handshake is refused', () => {
    const agent = agentChannel();
    const keys = deriveSessionKeys(TOKEN, nonce(1), nonce(2));
    agent.handleBytes(enc.encode(encodeFrame(keys.clientToAgent, 1, ping(1))));
    expect(failure(agent)).toMatchObject({ code: 'invalid', message: expect.stringContaining('expected a hello') });
    expect(JSON.parse(drain(agent)[0]!).refused.code).toBe('protocol');
  });
});

describe('peer control channel: properties', () => {
  it('canonical JSON survives a JSON round trip byte for byte', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = canonicalJson(v);
        expect(canonicalJson(JSON.parse(c))).toBe(c);
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes to an agent in any phase never throw, and a failure is reported once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }), (phase, chunks) => {
        let agent: AgentChannel;
        if (phase === 2) agent = openPair().agent;
        else {
          agent = agentChannel();
          if (phase === 1) {
            const c = clientChannel();
            c.start();
            feed(agent, drain(c));
            drain(agent);
          }
        }
        for (const ch of chunks) agent.handleBytes(ch);
        const ev = events(agent);
        expect(ev.filter((e) => e.type === 'failed').length).toBeLessThanOrEqual(1);
        expect(ev.filter((e) => e.type === 'message')).toEqual([]);
        if (agent.state === 'failed') expect(ev.at(-1)?.type).toBe('failed');
      }),
      { numRuns: 400 },
    );
  });

  it('random JSON lines to an open agent never throw and never pass as messages', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 5 }), (values) => {
        const { agent } = openPair();
        for (const v of values) agent.handleBytes(enc.encode(`${JSON.stringify(v)}\n`));
        expect(events(agent).filter((e) => e.type === 'message' || e.type === 'invalid')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('any change of one byte of a valid frame is rejected (or changes nothing the MAC covers)', () => {
    const { client } = openPair();
    client.send({ type: 'start-rpc', id: 3, transports: ['udp', 'plt'], drc: { enabled: false, maxEntries: 100 } });
    const line = enc.encode(drain(client)[0]!);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: line.length - 2 }), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        // A fresh agent at the same point of the same session sees the mutated frame.
        const { agent } = openPair();
        const bad = line.slice();
        bad[pos]! ^= xor;
        agent.handleBytes(bad);
        const ev = events(agent);
        const delivered = ev.filter((e) => e.type === 'message' || e.type === 'invalid');
        if (delivered.length > 0) {
          // Only a change JSON does not see (such as an escape spelled differently) may pass, and then it means the same.
          expect(delivered).toEqual([{ type: 'message', message: { type: 'start-rpc', id: 3, transports: ['udp', 'plt'], drc: { enabled: false, maxEntries: 100 } } }]);
        } else {
          expect(ev.some((e) => e.type === 'failed')).toBe(true);
        }
      }),
      { numRuns: 600 },
    );
  });
});
