// IP and UDP framing for captured datagrams, so that any tool opens a capture as ordinary UDP
// traffic (LINKTYPE_RAW: the packet starts with the IP header). The lab's datagrams are the UDP
// payload, byte for byte as the link carried them.
//
// IPv4 (RFC 791) with a valid header checksum and DF set; IPv6 (RFC 8200) when either end is an
// IPv6 address (an IPv4 end is then written IPv4-mapped, RFC 4291 (2.5.5.2)). The UDP checksum
// (RFC 768, RFC 8200 (8.1)) covers the payload as captured, so a datagram the lab corrupted has
// a valid UDP checksum and a bad lab CRC32C: the corruption is the lab's, past the UDP layer.

/** Bytes of an IPv4 header without options. */
export const IPV4_HEADER_BYTES = 20;
/** Bytes of an IPv6 header. */
export const IPV6_HEADER_BYTES = 40;
/** Bytes of a UDP header. */
export const UDP_HEADER_BYTES = 8;
/** Largest UDP payload in an IPv4 packet (65535 minus the IP and UDP headers). */
export const MAX_UDP_PAYLOAD_IPV4_BYTES = 65535 - IPV4_HEADER_BYTES - UDP_HEADER_BYTES;
/** Largest UDP payload in an IPv6 packet without jumbograms. */
export const MAX_UDP_PAYLOAD_IPV6_BYTES = 65535 - UDP_HEADER_BYTES;

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
export interface IpAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

/** An address and port as text, as sockets report them. */
export interface SocketAddress {
  address: string;
  port: number;
}

function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | null {
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: Uint8Array | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) >= 0) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (tail === null) return null;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const group = (s: string) => (s === '' ? [] : s.split(':'));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const g = groups[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out[2 * i] = v >>> 8;
    out[2 * i + 1] = v & 0xff;
  }
  if (tail !== null) out.set(tail, 12);
  return out;
}

/** Parses an IPv4 or IPv6 address; an IPv4-mapped IPv6 address gives IPv4. Null when malformed. */
export function parseIpAddress(text: string): IpAddress | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6 === null) return null;
  const mapped = v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? { family: 4, bytes: v6.slice(12) } : { family: 6, bytes: v6 };
}

function mapToV6(a: IpAddress): Uint8Array {
  if (a.family === 6) return a.bytes;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(a.bytes, 12);
  return out;
}

// RFC 1071: the 16-bit one's complement sum, folded.
function sum16(bytes: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) acc += bytes[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** The RFC 1071 Internet checksum of bytes [start, end), for tests and callers outside the framer. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return ~fold(sum16(bytes, start, end, 0)) & 0xffff;
}

/** Builds IP/UDP packets around datagrams into one reused buffer. */
export class UdpFramer {
  private buf = new Uint8Array(2048);
  private ipId = 0;

  /**
   * The IP packet carrying `payload` from `src` to `dst`, valid until the next call.
   * Throws (caller misuse) when the payload cannot fit one UDP datagram.
   */
  frame(src: IpAddress, srcPort: number, dst: IpAddress, dstPort: number, payload: Uint8Array): Uint8Array {
    const v6 = src.family === 6 || dst.family === 6;
    const max = v6 ? MAX_UDP_PAYLOAD_IPV6_BYTES : MAX_UDP_PAYLOAD_IPV4_BYTES;
    if (payload.length > max) throw new RangeError(`a ${payload.length}-byte datagram does not fit in one UDP datagram over IPv${v6 ? 6 : 4} (at most ${max} bytes)`);
    const ipBytes = v6 ? IPV6_HEADER_BYTES : IPV4_HEADER_BYTES;
    const udpLen = UDP_HEADER_BYTES + payload.length;
    const total = ipBytes + udpLen;
    if (this.buf.length < total) this.buf = new Uint8Array(Math.max(total, this.buf.length * 2));
    const b = this.buf;
    let pseudo: number;
    if (v6) {
      const s = mapToV6(src);
      const d = mapToV6(dst);
      b[0] = 0x60;
      b[1] = 0;
      b[2] = 0;
      b[3] = 0;
      b[4] = udpLen >>> 8;
      b[5] = udpLen & 0xff;
      b[6] = 17;
      b[7] = 64;
      b.set(s, 8);
      b.set(d, 24);
      // RFC 8200 (8.1): source, destination, upper-layer length (32 bits), next header.
      pseudo = sum16(b, 8, 40, 0) + udpLen + 17;
    } else {
      const id = this.ipId;
      this.ipId = (id + 1) & 0xffff;
      b[0] = 0x45;
      b[1] = 0;
      b[2] = total >>> 8;
      b[3] = total & 0xff;
      b[4] = id >>> 8;
      b[5] = id & 0xff;
      b[6] = 0x40; // DF: UDP datagrams of the lab are never fragmented in a capture
      b[7] = 0;
      b[8] = 64;
      b[9] = 17;
      b[10] = 0;
      b[11] = 0;
      b.set(src.bytes, 12);
      b.set(dst.bytes, 16);
      const c = internetChecksum(b, 0, IPV4_HEADER_BYTES);
      b[10] = c >>> 8;
      b[11] = c & 0xff;
      pseudo = sum16(b, 12, 20, 0) + 17 + udpLen;
    }
    const u = ipBytes;
    b[u] = srcPort >>> 8;
    b[u + 1] = srcPort & 0xff;
    b[u + 2] = dstPort >>> 8;
    b[u + 3] = dstPort & 0xff;
    b[u + 4] = udpLen >>> 8;
    b[u + 5] = udpLen & 0xff;
    b[u + 6] = 0;
    b[u + 7] = 0;
    b.set(payload, u + UDP_HEADER_BYTES);
    let c = ~fold(sum16(b, u, total, pseudo)) & 0xffff;
    // RFC 768: a computed checksum of zero is sent as all ones (zero means "no checksum").
    if (c === 0) c = 0xffff;
    b[u + 6] = c >>> 8;
    b[u + 7] = c & 0xff;
    return b.subarray(0, total);
  }
}
