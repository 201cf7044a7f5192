// How a server engine names a peer: "127.0.0.1:5000", "[::1]:5000".

/** The text of an address, or null for an unknown peer. */
export function addressText(a: { address: string; port: number } | undefined): string | null {
  if (a === undefined) return null;
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
