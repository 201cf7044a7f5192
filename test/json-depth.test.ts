// The nesting check that runs before every recursive JSON parse of outside input (specs, the
// serve bridge's messages, peer agent frames): core/util/json-depth.ts.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonTooDeep } from '../core/util/json-depth.js';

/** Nesting of a parsed value: 0 for a scalar, 1 for [] or {}, ... */
function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  const children = Array.isArray(v) ? v : Object.values(v);
  return 1 + children.reduce<number>((m, c) => Math.max(m, depthOf(c)), 0);
}

/** The value at a path jsonTooDeep wrote ($, .name, ["name"], [i]). */
function at(v: unknown, path: string): unknown {
  let cur = v;
  const re = /\.([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  expect(path.startsWith('$')).toBe(true);
  let consumed = 1;
  for (const m of path.slice(1).matchAll(re)) {
    consumed += m[0].length;
    const key = m[1] ?? (m[2] !== undefined ? Number(m[2]) : (JSON.parse(m[3]!) as string));
    cur = (cur as Record<string | number, unknown>)[key];
  }
  expect(consumed).toBe(path.length);
  return cur;
}

describe('jsonTooDeep', () => {
  it('counts only brackets outside strings, escaped quotes included', () => {
    expect(jsonTooDeep('{"a":"[[[[","b":[1,{"c":2}]}', 3)).toBeNull();
    expect(jsonTooDeep('{"a":"[[[[","b":[1,{"c":2}]}', 2)).toEqual({ depth: 3, path: '$.b[1]' });
    expect(jsonTooDeep('"\\"[["', 0)).toBeNull();
    expect(jsonTooDeep('{"k\\"[": [[1]]}', 2)).toEqual({ depth: 3, path: '$["k\\"["][0]' });
  });

  it('names the element and member where the limit is passed', () => {
    expect(jsonTooDeep('[1, 2, [3, [4]]]', 2)).toEqual({ depth: 3, path: '$[2][1]' });
    expect(jsonTooDeep('{"a": 1, "b c": {"d": [0, 0, {"e": {}}]}}', 4)).toEqual({ depth: 5, path: '$["b c"].d[2].e' });
  });

  it('stays flat however deep the text (no recursion of its own)', () => {
    const n = 1_000_000;
    expect(jsonTooDeep(`${'['.repeat(n)}${']'.repeat(n)}`, 10)).toEqual({ depth: 11, path: `$${'[0]'.repeat(10)}` });
    expect(jsonTooDeep(`${'['.repeat(n)}${']'.repeat(n)}`, n)).toBeNull();
  });

  it('agrees with the parsed value: null exactly when it nests no deeper than the limit, else a path to a value that does', () => {
    fc.assert(
      fc.property(fc.jsonValue({ depthSize: 'large', maxDepth: 12 }), fc.integer({ min: 0, max: 12 }), (v, limit) => {
        const text = JSON.stringify(v);
        const r = jsonTooDeep(text, limit);
        const depth = depthOf(v);
        if (depth <= limit) expect(r).toBeNull();
        else {
          expect(r).not.toBeNull();
          expect(r!.depth).toBe(limit + 1);
          // The value at the path opens the level past the limit: it is an object or array that
          // itself nests at least one more level beyond what the path's length allows.
          const target = at(v, r!.path);
          expect(typeof target === 'object' && target !== null).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
