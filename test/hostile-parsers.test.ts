// Hostile input to the lab's parsers (test/helpers/hostile.ts): a hundred thousand random and
// mutated inputs each to the datagram header parser, the LAN beacon parser, the experiment spec
// parser, the .x (XDR language) parser and the validation of every lab API call's arguments (what
// IPC and the serve bridge hand over). None may throw; each answers with a value or an error that
// says what was wrong.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HEADER_BYTES, PacketType, emit, newHeader, parseInto } from '../core/wire/packet.js';
import { encodeBeacon, parseBeacon } from '../core/peer/beacon.js';
import { parseSpecText } from '../experiments/spec.js';
import { parseXdrSpec } from '../core/rpc/xdr-parser.js';
import { API_METHODS, checkParams } from '../experiments/api/contract.js';
import { hostileBytes, hostileRun, hostileText, HOSTILE_RUNS } from './helpers/hostile.js';
import { ROOT } from './helpers/stage-app.js';

describe('hostile input to the parsers', () => {
  it('datagram header: every input parses or is refused with a reason, nothing thrown', () => {
    const seeds = Object.values(PacketType).map((type, i) =>
      emit({ type, flags: i & 3, connectionId: 0x1234 + i, seq: 0xfffffff0 + i, ack: 17, windowBytes: 65536, tsVal: 5, tsEcr: 4, sackCount: i % 5, sack: [1, 2, 3, 4, 5, 6, 7, 8] }, new Uint8Array(i * 40)),
    );
    const h = newHeader();
    let parsed = 0;
    const t = hostileRun('datagram header (core/wire/packet.ts)', hostileBytes(seeds), (bytes) => {
      const err = parseInto(bytes, bytes.length, h);
      if (err === null) {
        parsed++;
        if (bytes.length < HEADER_BYTES) throw new Error(`a ${bytes.length}-byte datagram parsed`);
      } else if (typeof err !== 'string' || (err as string).length === 0) throw new Error(`not a ParseError: ${String(err)}`);
    });
    expect(t.throws).toBe(0);
    expect(parsed).toBeGreaterThan(0);
    expect(parsed).toBeLessThan(HOSTILE_RUNS);
  });

  it('LAN beacon: every input is a beacon or an error, nothing thrown', () => {
    const seeds = [encodeBeacon({ name: 'lab-pc-07', controlPort: 9876, version: '0.1.0' }), encodeBeacon({ name: 'x'.repeat(128), controlPort: 1, version: '9.9.9' })];
    for (const s of seeds) expect(parseBeacon(s).ok).toBe(true);
    const t = hostileRun('LAN beacon (core/peer/beacon.ts)', hostileBytes(seeds, 600), (bytes) => {
      const r = parseBeacon(bytes);
      if (!r.ok && r.error === '') throw new Error('an error without a reason');
    });
    expect(t.throws).toBe(0);
  });

  it('experiment specs: every text is a spec or errors with a JSON path, nothing thrown', () => {
    const dir = join(ROOT, 'experiments', 'library');
    const seeds = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => readFileSync(join(dir, f), 'utf8'));
    let valid = 0;
    const t = hostileRun('experiment spec (experiments/spec.ts)', hostileText(seeds), (text) => {
      const r = parseSpecText(text);
      if (r.ok) valid++;
      else for (const e of r.errors) if (!e.path.startsWith('$') || e.message === '') throw new Error(`an error without a path or a reason: ${JSON.stringify(e)}`);
    });
    expect(t.throws).toBe(0);
    expect(valid).toBeGreaterThan(0);
  });

  it('.x files: every text is a spec or an error at a line and column, nothing thrown', () => {
    const seeds = ['core/rpc/programs/kv.x', 'core/rpc/programs/counter.x', 'experiments/rpc/types.x', 'core/rpc/pmap.x'].map((f) => readFileSync(join(ROOT, f), 'utf8'));
    let valid = 0;
    const t = hostileRun('.x parser (core/rpc/xdr-parser.ts)', hostileText(seeds), (text) => {
      const r = parseXdrSpec(text, 'fuzz.x');
      if (r.ok) valid++;
      else if (!(r.error.line >= 1 && r.error.column >= 1) || r.error.message === '') throw new Error(`an error without a place or a reason: ${JSON.stringify(r.error)}`);
    });
    expect(t.throws).toBe(0);
    expect(valid).toBeGreaterThan(0);
  });

  it("lab API arguments (IPC and the serve bridge): every value is accepted or refused naming the call, nothing thrown", () => {
    const methods = [...API_METHODS, 'rmRf', '__proto__', 'constructor', 'toString', ''];
    const value = fc.oneof(fc.jsonValue({ maxDepth: 6 }), fc.anything({ maxDepth: 4, withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true }));
    const params = fc.oneof(
      value,
      fc.record({ runId: fc.oneof(fc.string(), fc.constantFrom('.', '..', '../../etc', 'run-1', '')), text: fc.string({ maxLength: 300 }), path: fc.string(), value, name: fc.string() }, { requiredKeys: [] }),
    );
    let accepted = 0;
    const t = hostileRun('lab API arguments (experiments/api/contract.ts)', fc.tuple(fc.constantFrom(...methods), params), ([method, p]) => {
      const r = checkParams(method, p);
      if (r.ok) accepted++;
      else if (!r.error.includes(method === '' ? '""' : method) && !r.error.startsWith('unknown call')) throw new Error(`the error does not name the call: ${r.error}`);
    });
    expect(t.throws).toBe(0);
    expect(accepted).toBeGreaterThan(0);
  });
});
