// How deeply a JSON text nests, found by one scan of its characters before any recursive parser or
// validator sees it. JSON parsers and schema validators recurse once per level, so a text a few
// thousand levels deep exhausts the stack ("Maximum call stack size exceeded", with no hint of
// where); refusing it first, with the JSON path where the limit was passed, keeps every such parse
// safe and the error useful.

/** Where a text first nests deeper than allowed. */
export interface JsonTooDeep {
  /** The depth reached when the scan stopped (limit + 1). */
  depth: number;
  /** JSON path of the value that opens the level past the limit, e.g. `$.sweep[0].values`. */
  path: string;
}

interface Frame {
  array: boolean;
  /** Index of the current element (arrays). */
  index: number;
  /** The current member's name (objects), null before the first. */
  key: string | null;
  /** In an object, the next string is a member name. */
  expectKey: boolean;
}

function pathOf(stack: readonly Frame[]): string {
  let p = '$';
  for (const f of stack) {
    if (f.array) p += `[${f.index}]`;
    else if (f.key !== null) p += /^[A-Za-z_$][\w$]*$/.test(f.key) ? `.${f.key}` : `[${JSON.stringify(f.key)}]`;
  }
  return p;
}

/**
 * The first place `text` nests objects and arrays more than `limit` levels deep, or null when it
 * never does. Strings (escapes included) are skipped; the text need not be valid JSON, only what
 * a parser would nest is counted.
 */
export function jsonTooDeep(text: string, limit: number): JsonTooDeep | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: find its end, and keep it when it names an object member.
      const start = i;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
      const top = stack[stack.length - 1];
      if (top !== undefined && !top.array && top.expectKey) {
        try {
          top.key = JSON.parse(text.slice(start, i + 1)) as string;
        } catch {
          top.key = text.slice(start + 1, i);
        }
        top.expectKey = false;
      }
    } else if (c === 0x7b || c === 0x5b) {
      if (stack.length >= limit) return { depth: stack.length + 1, path: pathOf(stack) };
      stack.push({ array: c === 0x5b, index: 0, key: null, expectKey: c === 0x7b });
    } else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top === undefined) continue;
      if (top.array) top.index++;
      else top.expectKey = true;
    }
  }
  return null;
}
