// Socket addresses as the kernel reports them.

/** An address with IPv4-mapped IPv6 (::ffff:a.b.c.d) written as IPv4. */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m === null ? address : m[1]!;
}
