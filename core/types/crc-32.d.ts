// Types for the CRC32C half of SheetJS crc-32 (the package ships types for CRC32 only).
declare module 'crc-32/crc32c.js' {
  const crc32c: {
    /** CRC32C of a byte array, as a signed 32-bit integer. */
    buf(data: Uint8Array, seed?: number): number;
  };
  export default crc32c;
}
