// Counters of one reliable connection. Plain numeric fields, all present from the start, so the
// engine bumps them without allocating and a sampler can copy them at any time.

/** Cumulative counters of a connection (both its sending and its receiving side). */
export class ConnectionCounters {
  /** Datagrams handed to the network, of every type. */
  packetsSent = 0;
  /** Bytes of those datagrams (headers included). */
  bytesSent = 0;
  /** DATA and FIN packets sent for the first time. */
  dataPacketsSent = 0;
  /** Payload bytes sent for the first time. */
  dataBytesSent = 0;
  /** Retransmissions after a retransmission timeout. */
  retransmitsTimeout = 0;
  /** Fast retransmissions (duplicate ACKs or SACK). */
  retransmitsFast = 0;
  /**
   * Retransmissions sent after an earlier copy had arrived, as far as the timestamp echoes show it
   * (Eifel, RFC 3522; LossRecovery.judge and the metric's description say what they miss).
   */
  retransmitsSpurious = 0;
  /** Retransmission timer expiries. */
  timeouts = 0;
  /** Fast recoveries entered. */
  fastRecoveries = 0;
  /** ACK-only packets sent. */
  acksSent = 0;
  /** Zero-window probes sent. */
  probesSent = 0;
  /** Duplicate ACKs received. */
  dupAcksReceived = 0;

  /** Datagrams received (before any check). */
  packetsReceived = 0;
  /** Bytes of those datagrams. */
  bytesReceived = 0;
  /** Datagrams dropped because the CRC32C did not match (verification on). */
  checksumFailures = 0;
  /** Datagrams whose CRC32C did not match but were accepted (verification off). */
  corruptAccepted = 0;
  /** Payload bytes of accepted corrupted DATA packets that reached the application. */
  corruptDeliveredPackets = 0;
  /** Datagrams that could not be parsed (or did not fit the connection). */
  malformed = 0;
  /** DATA packets that arrived again after being received (suppressed by sequence number). */
  duplicatesSuppressed = 0;
  /** DATA packets that arrived ahead of a gap and were kept (selective repeat). */
  outOfOrderBuffered = 0;
  /** DATA packets that arrived ahead of a gap and were discarded (go-back-N, stop-and-wait). */
  outOfOrderDiscarded = 0;
  /** DATA packets dropped because they were beyond the receive window. */
  windowDrops = 0;

  /** Payload bytes read by the application, in order. */
  deliveredBytes = 0;
  /** DATA packets whose payload was delivered in order. */
  deliveredPackets = 0;
  /** Complete messages delivered (packets with the message-end flag). */
  deliveredMessages = 0;

  /** RTT samples taken (Karn's rule: never from a retransmitted packet). */
  rttSamples = 0;
  /** Sum of those samples in ms (for interval means). */
  rttSumMs = 0;
  /** Smallest RTT sample in ms. */
  rttMinMs = Number.POSITIVE_INFINITY;
  /** Largest RTT sample in ms. */
  rttMaxMs = 0;
}

/**
 * Retransmissions of DATA and FIN packets, whatever found them lost: the timeout's and the fast
 * ones. Spurious retransmissions are among them, not beside them. Takes a live ConnectionCounters
 * or a copy of its fields (a summary).
 */
export function retransmissionsTotal(c: Pick<ConnectionCounters, 'retransmitsTimeout' | 'retransmitsFast'>): number {
  return c.retransmitsTimeout + c.retransmitsFast;
}
