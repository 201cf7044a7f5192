// Socket addresses as the kernel reports them.

/** An address with IPv4-mapped IPv6 (::ffff:a.b.c.d) written as IPv4. */
export function plainAddress(address: string): string {
  // Called for every datagram of a service that serves one host: an address that does not start
  // with a colon (any IPv4 address, most IPv6 ones) is plain without a regular expression.
  if (address.charCodeAt(0) !== 0x3a) return address;
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m === null ? address : m[1]!;
}
