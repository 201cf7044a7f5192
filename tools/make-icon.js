#!/usr/bin/env node
// Draws the app icon (build/icon.png, 512×512 RGBA) with nothing but Node: a datagram (header band
// and payload lines) moving right, on a rounded blue square. Shapes are sampled 4×4 per pixel for
// smooth edges, and the PNG is written by hand (zlib for the IDAT stream).
// Usage: node tools/make-icon.js [OUT] (default build/icon.png)

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { deflateSync } from 'node:zlib';

const SIZE = 512;
const SUB = 4;

const roundRect = (x0, y0, x1, y1, r) => (x, y) => {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false;
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
};

/** Convex polygon, points clockwise (in screen coordinates). */
const polygon = (pts) => (x, y) => {
  for (let i = 0; i < pts.length; i++) {
    const [ax, ay] = pts[i];
    const [bx, by] = pts[(i + 1) % pts.length];
    if ((bx - ax) * (y - ay) - (by - ay) * (x - ax) < 0) return false;
  }
  return true;
};

const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)];

// Back to front; the background's colour is a vertical gradient.
const background = roundRect(16, 16, 496, 496, 104);
const top = hex('#1d4f7a');
const bottom = hex('#0f2a44');
const layers = [
  { inside: roundRect(72, 168, 376, 344, 28), color: hex('#f4f7fb') },
  { inside: roundRect(72, 168, 156, 344, 28), color: hex('#f5a524') },
  { inside: (x, y) => x >= 128 && x <= 156 && y >= 168 && y <= 344, color: hex('#f5a524') },
  { inside: roundRect(184, 204, 344, 222, 9), color: hex('#8aa4bd') },
  { inside: roundRect(184, 247, 320, 265, 9), color: hex('#8aa4bd') },
  { inside: roundRect(184, 290, 336, 308, 9), color: hex('#8aa4bd') },
  // A chevron pointing right, as two convex arms.
  { inside: polygon([[396, 176], [432, 176], [472, 256], [436, 256]]), color: hex('#f5a524') },
  { inside: polygon([[436, 256], [472, 256], [432, 336], [396, 336]]), color: hex('#f5a524') },
];

const rgba = Buffer.alloc(SIZE * SIZE * 4);
for (let py = 0; py < SIZE; py++) {
  for (let px = 0; px < SIZE; px++) {
    let r = 0, g = 0, b = 0, a = 0;
    for (let sy = 0; sy < SUB; sy++) {
      for (let sx = 0; sx < SUB; sx++) {
        const x = px + (sx + 0.5) / SUB;
        const y = py + (sy + 0.5) / SUB;
        if (!background(x, y)) continue;
        const t = y / SIZE;
        let c = [0, 1, 2].map((i) => top[i] + (bottom[i] - top[i]) * t);
        for (const l of layers) if (l.inside(x, y)) c = l.color;
        r += c[0];
        g += c[1];
        b += c[2];
        a += 1;
      }
    }
    const o = (py * SIZE + px) * 4;
    // Colour averaged over the covered samples (straight alpha), coverage as alpha.
    rgba[o] = a === 0 ? 0 : Math.round(r / a);
    rgba[o + 1] = a === 0 ? 0 : Math.round(g / a);
    rgba[o + 2] = a === 0 ? 0 : Math.round(b / a);
    rgba[o + 3] = Math.round((a / (SUB * SUB)) * 255);
  }
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(SIZE, 0);
ihdr.writeUInt32BE(SIZE, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // RGBA
const raw = Buffer.alloc(SIZE * (SIZE * 4 + 1));
for (let y = 0; y < SIZE; y++) rgba.copy(raw, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4); // filter 0 per row
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);

const out = process.argv[2] ?? 'build/icon.png';
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, png);
console.log(`wrote ${out} (${SIZE}×${SIZE}, ${png.length} bytes)`);
