// The metric registry, the output twin of core/knobs.ts: every number a run reports (a column of
// samples.csv, a trial result of summary.csv, a model's expectation) is declared here once, with
// its unit, a label for people, how its values combine over intervals, what it means and where it
// comes from. Meters and CSV headers use these names, the CLI aggregates by them, the app's charts
// take their legends and axis titles from them, spec plots are checked against them, and the column
// tables of docs/experiments.md are generated from them (npm run docs).

import { DROP_CAUSES, LINK_COUNTERS, isDropCounter, type LinkColumn, type LinkCounters } from '../impair/counters.js';

/** How a metric is written. */
export type MetricUnit =
  | 's'
  | 'bit/s'
  | 'ms'
  | 'bytes'
  | 'packets'
  | 'datagrams'
  | 'messages'
  | 'calls'
  | 'calls/s'
  | 'requests'
  | 'count'
  | 'ratio'
  | '0/1'
  | 'transmissions/call';

/**
 * How a metric's values combine over intervals (a CLI line that spans several samples): `sum` for
 * counts per interval, `last` for a gauge read at the end of the interval, `mean` for rates and
 * means, `max` for a largest value. Trial results are averaged over repetitions whatever it says.
 */
export type MetricAggregation = 'sum' | 'last' | 'mean' | 'max';

/** One metric. */
export interface MetricDef {
  /** For people: chart legends and summaries. */
  label: string;
  unit: MetricUnit;
  aggregation: MetricAggregation;
  /** What one value means (per interval in samples.csv). */
  description: string;
  /** What it means as a trial result (summary.csv), when that differs from `description`. */
  result?: string;
  /** Where the number comes from. */
  source: string;
}

function m(label: string, unit: MetricUnit, aggregation: MetricAggregation, description: string, source: string, result?: string): MetricDef {
  return result === undefined ? { label, unit, aggregation, description, source } : { label, unit, aggregation, description, source, result };
}

/** Flows of a `flows` run that have columns of their own (flow1_... to flow8_...). */
export const FLOW_COLUMN_COUNT = 8;
type FlowIndex = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
/** flowN_goodput_bps and flowN_cwnd_packets of flows 1 to FLOW_COLUMN_COUNT. */
export type FlowMetricName = `flow${FlowIndex}_goodput_bps` | `flow${FlowIndex}_cwnd_packets`;

const LINK_DROP_CAUSES = DROP_CAUSES.map((d) => d.cause).join(', ');

/** A family of link columns: forward and reverse links of a transfer or RPC run, the link of a stream. */
export type LinkFamily = 'fwd' | 'rev' | 'link';

/** The columns of LINK_COUNTERS in one family, in column order: fwd_drops_random, ... */
export function linkColumns<F extends LinkFamily>(family: F): `${F}_${LinkColumn}`[] {
  return LINK_COUNTERS.map((c) => `${family}_${c.column}` as const);
}

/** The columns of one family that count drops (a cause of DROP_CAUSES), in column order. */
export function linkDropColumns<F extends LinkFamily>(family: F): `${F}_${LinkColumn}`[] {
  return LINK_COUNTERS.filter((c) => isDropCounter(c.counter)).map((c) => `${family}_${c.column}` as const);
}

/** The metrics of LINK_COUNTERS in one family (`label` before each label, `who` before what it counts). */
function linkMetrics<F extends LinkFamily>(family: F, label: string, who: string): Record<`${F}_${LinkColumn}`, MetricDef> {
  const out = {} as Record<`${F}_${LinkColumn}`, MetricDef>;
  for (const c of LINK_COUNTERS) {
    // A stream's chart shows these beside its receiver's duplicates and reordering: "by the link" tells them apart.
    const text = label === '' ? `${c.label[0]!.toUpperCase()}${c.label.slice(1)}${isDropCounter(c.counter) ? '' : ' by the link'}` : `${label}${c.label}`;
    const description = `${who} datagrams ${c.what}`;
    out[`${family}_${c.column}`] = m(text, 'datagrams', 'sum', description, `${who} link: ${c.counter}`, `${description} over the trial`);
  }
  return out;
}

/** The columns of one family for a sample: how much each counter grew since `prev` (NaN without a link; the whole count without a `prev`). */
export function linkValues<F extends LinkFamily>(family: F, cur: LinkCounters | null, prev: LinkCounters | null): Record<`${F}_${LinkColumn}`, number> {
  const out = {} as Record<`${F}_${LinkColumn}`, number>;
  for (const c of LINK_COUNTERS) out[`${family}_${c.column}`] = cur === null ? Number.NaN : prev === null ? cur[c.counter] : cur[c.counter] - prev[c.counter];
  return out;
}

/** Every metric but the per-flow family. */
const BASE = {
  // Time
  time_s: m('Time', 's', 'last', 'end of the interval, from the start of the trial', 'the run clock (virtual time in the simulator)'),

  // A reliable transfer (bulk, messages): the sender
  wire_tx_packets: m('Datagrams sent', 'datagrams', 'sum', 'datagrams the sender put on the wire (data, retransmissions, control)', 'sender connection: packetsSent'),
  wire_tx_bytes: m('Bytes sent', 'bytes', 'sum', 'their bytes (lab header included, IP/UDP not)', 'sender connection: bytesSent'),
  throughput_bps: m('Throughput', 'bit/s', 'mean', 'wire_tx_bytes per second', 'sender connection: bytesSent'),
  data_packets_new: m('New DATA packets', 'packets', 'sum', 'DATA packets sent for the first time', 'sender connection: dataPacketsSent'),
  retransmits_timeout: m('Retransmitted on timeout', 'packets', 'sum', 'retransmissions after a timeout', 'sender connection: retransmitsTimeout', 'retransmissions after a timeout over the trial'),
  retransmits_fast: m('Fast retransmissions', 'packets', 'sum', 'fast retransmissions (duplicate ACKs, SACK, RACK)', 'sender connection: retransmitsFast', 'fast retransmissions over the trial'),
  retransmits_spurious: m('Spurious retransmissions', 'packets', 'sum', 'retransmissions sent after an earlier copy of the packet had arrived or was on its way, as the sender learns it from the timestamp echo (Eifel, RFC 3522): every ACK naming the packet echoes its earliest copy that arrived. Missed when the sender cannot know: every ACK naming the packet was lost, no copy after the accepted one reached the receiver and the accepted one arrived in a burst acknowledged together, copies were sent in the same microsecond, or a late copy arrived after the sender forgot the packet (four send windows later); when the echo names a copy between the first and the latest, only the latest is counted', 'sender connection: retransmitsSpurious', 'spurious retransmissions over the trial'),
  timeouts: m('Timeouts', 'count', 'sum', 'retransmission timer expiries', 'sender connection: timeouts', 'retransmission timer expiries over the trial'),
  rtt_samples: m('RTT samples', 'count', 'sum', 'RTT measurements', 'sender connection: rttSamples'),
  rtt_mean_ms: m('Mean RTT', 'ms', 'mean', 'mean of the RTT samples of the interval', 'sender connection: rttSumMs / rttSamples', 'mean RTT sample of the trial'),
  srtt_ms: m('Smoothed RTT', 'ms', 'last', "the sender's smoothed RTT at the end of the interval", 'sender connection: srttMs'),
  rttvar_ms: m('RTT variation', 'ms', 'last', "the sender's RTT variation at the end of the interval", 'sender connection: rttvarMs'),
  rto_ms: m('RTO', 'ms', 'last', "the sender's retransmission timeout at the end of the interval", 'sender connection: rtoMs'),
  cwnd_packets: m('Congestion window', 'packets', 'last', 'congestion window at the end of the interval (empty with congestion control off)', 'sender connection: cwndPackets'),
  ssthresh_packets: m('Slow-start threshold', 'packets', 'last', 'slow-start threshold at the end of the interval (empty with congestion control off)', 'sender connection: ssthreshPackets'),
  in_flight_packets: m('In flight', 'packets', 'last', 'sent and not acknowledged, at the end of the interval', 'sender connection: inFlightPackets'),
  peer_window_bytes: m('Advertised window', 'bytes', 'last', 'the window the receiver advertised last', 'sender connection: peerWindowBytes'),

  // A reliable transfer: the receiver
  delivered_bytes: m('Bytes delivered', 'bytes', 'sum', 'bytes the receiving application got', 'receiver connection: deliveredBytes'),
  delivered_messages: m('Messages delivered', 'messages', 'sum', 'whole messages delivered (`messages` workload)', 'receiver connection: deliveredMessages', 'messages delivered over the trial (`messages`)'),
  goodput_bps: m('Goodput', 'bit/s', 'mean', 'delivered_bytes per second', 'receiver connection: deliveredBytes', 'bytes x 8 / duration'),
  duplicates_suppressed: m('Duplicates suppressed', 'packets', 'sum', 'packets the receiver had already and dropped', 'receiver connection: duplicatesSuppressed', 'packets the receiver had already, over the trial'),
  out_of_order_buffered: m('Out of order, buffered', 'packets', 'sum', 'packets held until the gap before them filled', 'receiver connection: outOfOrderBuffered', 'packets held for a gap, over the trial'),
  out_of_order_discarded: m('Out of order, discarded', 'packets', 'sum', 'out-of-order packets go-back-N threw away', 'receiver connection: outOfOrderDiscarded'),
  window_drops: m('Beyond the window', 'packets', 'sum', 'packets beyond the advertised window, dropped', 'receiver connection: windowDrops', 'packets beyond the window, over the trial'),
  checksum_failures: m('Checksum failures', 'datagrams', 'sum', 'datagrams caught by the CRC32C (both ends of a transfer; the receiver of a stream)', 'connections: checksumFailures; stream receiver reports', 'corrupted datagrams caught over the trial'),
  corrupt_accepted: m('Corrupt, accepted', 'datagrams', 'sum', 'corrupted datagrams accepted with verification off (both ends)', 'connections: corruptAccepted'),
  corrupt_delivered: m('Corrupt, delivered', 'packets', 'sum', 'corrupted DATA whose payload reached the application', 'receiver connection: corruptDeliveredPackets', 'corrupted DATA delivered over the trial'),
  rcv_buffer_bytes: m('Receive buffer used', 'bytes', 'last', 'receive buffer occupancy at the end of the interval', 'receiver connection: rcvBufferedBytes'),

  // The emulated link, forward (data, calls) and reverse (ACKs, replies)
  ...linkMetrics('fwd', 'Forward: ', 'forward'),
  fwd_drops: m('Forward: drops', 'datagrams', 'sum', `forward datagrams the link dropped, every cause (${LINK_DROP_CAUSES})`, 'forward link: linkDrops()'),
  fwd_queue_packets: m('Bottleneck queue', 'packets', 'last', 'forward bottleneck queue length at the end of the interval', 'forward link: queuedPackets()'),
  ...linkMetrics('rev', 'Reverse: ', 'reverse'),
  rev_drops: m('Reverse: drops', 'datagrams', 'sum', `reverse datagrams the link dropped, every cause (${LINK_DROP_CAUSES})`, 'reverse link: linkDrops()'),
  ...linkMetrics('link', '', 'stream'),

  // Sockets
  kernel_drops_sender: m('Socket drops, sender', 'datagrams', 'sum', "datagrams the sender's socket dropped (kernel: /proc/net/udp; simulator: its receive buffer)", 'kernel counters or the simulated host'),
  kernel_drops_receiver: m('Socket drops, receiver', 'datagrams', 'sum', "datagrams the receiver's socket dropped (kernel: /proc/net/udp; simulator: its receive buffer)", 'kernel counters or the simulated host', "receiver socket drops over the trial"),

  // UDP stream
  sent_packets: m('Datagrams sent', 'datagrams', 'sum', 'datagrams the stream sender sent', 'stream sender: packetsSent', 'datagrams the stream sent over the trial'),
  sent_bytes: m('Bytes sent', 'bytes', 'sum', 'their bytes', 'stream sender: bytesSent'),
  send_rate_bps: m('Send rate', 'bit/s', 'mean', 'sent_bytes per second', 'stream sender: bytesSent'),
  received_packets: m('Datagrams received', 'datagrams', 'sum', 'distinct datagrams the receiver got (from its reports)', 'stream receiver reports: packetsReceived', 'distinct datagrams received over the trial'),
  received_bytes: m('Bytes received', 'bytes', 'sum', 'their bytes', 'stream receiver reports: bytesReceived'),
  receive_rate_bps: m('Receive rate', 'bit/s', 'mean', 'received_bytes per second', 'stream receiver reports: bytesReceived', 'bytes received x 8 / stream duration'),
  lost_packets: m('Lost', 'datagrams', 'sum', 'expected and not received', 'stream receiver reports: lost'),
  reordered_packets: m('Reordered', 'datagrams', 'sum', 'arrived after a later one', 'stream receiver reports: reordered', 'datagrams that arrived after a later one, over the trial'),
  duplicate_packets: m('Duplicates', 'datagrams', 'sum', 'received more than once', 'stream receiver reports: duplicates', 'datagrams received more than once, over the trial'),
  jitter_ms: m('Jitter', 'ms', 'last', 'interarrival jitter (RFC 3550) at the end of the interval', 'stream receiver reports: jitterMs', 'final interarrival jitter'),
  loss_ratio: m('Loss ratio', 'ratio', 'mean', "share of the stream's datagrams that never arrived", 'stream sender and receiver: 1 - received / sent'),

  // Competing flows
  total_goodput_bps: m('All flows', 'bit/s', 'mean', 'bytes all flows delivered, per second', 'receiver connections: deliveredBytes', "all flows' goodput over the last quarter of the run"),
  jain_index: m("Jain's index", 'ratio', 'mean', "Jain's fairness index of the flows' goodput in the interval, (sum x)^2 / (n sum x^2): 1 is a fair share, 1/n one flow taking everything (empty until every flow has started)", 'per-flow goodput'),
  cross_sent_packets: m('Cross traffic sent', 'datagrams', 'sum', 'UDP cross traffic sent', 'cross-traffic sender: packetsSent'),
  mean_flow_goodput_bps: m('Mean per flow', 'bit/s', 'mean', "each flow's goodput over the last quarter of the run, averaged over the flows", 'receiver connections: deliveredBytes'),
  jain_index_final: m("Final Jain's index", 'ratio', 'mean', "Jain's index of the flows' goodput over the last quarter of the run", 'per-flow goodput'),
  time_to_fair_s: m('Time to fairness', 's', 'mean', "from the last flow's start until a one-second moving Jain's index stays at 0.95 or more to the end (empty: never)", 'per-flow goodput'),

  // RPC: the client
  calls_started: m('Calls started', 'calls', 'sum', 'calls the client started', 'RPC client: callsStarted'),
  calls_succeeded: m('Calls succeeded', 'calls', 'sum', 'calls that got a SUCCESS reply with results that decode', 'RPC client: callsSucceeded', 'calls that succeeded over the trial'),
  calls_failed: m('Calls failed', 'calls', 'sum', 'calls that ended otherwise', 'RPC client: callsFailed', 'calls that failed over the trial'),
  calls_failed_timeout: m('Failed: timeout', 'calls', 'sum', "of those: no reply within the call's timeout", 'RPC client: failedTimeout'),
  calls_failed_unreachable: m('Failed: unreachable', 'calls', 'sum', 'of those: ICMP unreachable, connection refused, handshake failed', 'RPC client: failedUnreachable'),
  calls_failed_shutdown: m('Failed: shut down', 'calls', 'sum', 'of those: the connection or the client closed', 'RPC client: failedShutdown'),
  calls_failed_remote: m('Failed: rejected', 'calls', 'sum', 'of those: a remote rejection (PROG_UNAVAIL ... CANT_DECODE_RESULT)', 'RPC client: failedProgUnavail ... failedCantDecode'),
  calls_in_flight: m('Calls in flight', 'calls', 'last', 'started and not completed, at the end of the interval', 'RPC client: pendingCalls'),
  calls_per_s: m('Calls per second', 'calls/s', 'mean', 'successful calls per second', 'RPC client: callsSucceeded', 'successful RPCs per second of the run (binder lookups included)'),
  attempts_per_call: m('Attempts per call', 'transmissions/call', 'mean', 'transmissions of the calls completed in the interval, per call', 'RPC client: attemptsOfCompleted', 'transmissions per completed call'),
  transmissions: m('Call transmissions', 'datagrams', 'sum', 'call messages sent, retransmissions included', 'RPC client: transmissions'),
  retransmissions: m('Call retransmissions', 'datagrams', 'sum', 'call messages sent again (same XID)', 'RPC client: retransmissions'),
  stray_replies: m('Stray replies', 'count', 'sum', 'replies for no pending call (duplicated, or after the call gave up)', 'RPC client: strayReplies'),
  latency_p50_ms: m('Latency p50', 'ms', 'mean', 'median latency of the calls that succeeded in the interval (from the start of the call, retransmissions included)', 'RPC client: interval latency histogram', 'median call latency over the trial'),
  latency_p90_ms: m('Latency p90', 'ms', 'mean', '90th percentile of that latency', 'RPC client: interval latency histogram', '90th percentile of the call latency over the trial'),
  latency_p99_ms: m('Latency p99', 'ms', 'mean', '99th percentile of that latency', 'RPC client: interval latency histogram', '99th percentile of the call latency over the trial'),
  latency_mean_ms: m('Latency mean', 'ms', 'mean', 'mean of that latency', 'RPC client: interval latency histogram', 'mean call latency over the trial'),
  latency_max_ms: m('Latency max', 'ms', 'max', 'largest of that latency', 'RPC client: interval latency histogram'),
  lookups: m('Binder lookups', 'calls', 'sum', "PMAPPROC_GETPORT calls to the server's portmapper (`workload.rpcBinding` once or every-call)", 'RPC workload client: lookups'),
  logical_latency_mean_ms: m('Latency with lookup', 'ms', 'mean', "mean latency of the mix's calls that succeeded, counted from the lookup before them, if any", 'RPC workload client: logicalLatencySumMs / logicalCalls'),

  // RPC: the server
  server_calls: m('Calls received', 'calls', 'sum', 'well-formed calls the server received (duplicates included)', 'RPC servers: calls'),
  executions: m('Executions', 'calls', 'sum', 'procedure executions', 'RPC servers: executions'),
  server_executions: m('Executions', 'calls', 'sum', 'procedure executions at the server over the trial', 'RPC servers: executions'),
  duplicate_requests: m('Duplicate requests', 'calls', 'sum', 'calls whose (client, XID, prog, vers, proc) the server had seen (NULL pings excluded: they bypass the cache, as in rpcgen servers)', 'RPC servers: duplicateRequests', 'duplicates the server saw over the trial (NULL pings excluded)'),
  cache_hits: m('Cache hits', 'calls', 'sum', 'duplicates answered from the duplicate request cache', 'RPC servers: cacheHits', 'duplicates answered from the cache over the trial'),
  in_progress_drops: m('In-progress drops', 'calls', 'sum', 'duplicates dropped because the first copy was still executing', 'RPC servers: inProgressDrops'),
  duplicate_executions: m('Duplicate executions', 'calls', 'sum', 'executions of an already executed request', "RPC servers: duplicateExecutions; the counter's own log", "INCREMENTs executed again for a request already executed (the counter's own log)"),
  // Replicated RPC services (`rpc-replicas`)
  availability: m('Availability', 'ratio', 'mean', 'share of the calls that ended in the interval that were answered within their deadline (empty when none ended)', 'replica client: callsSucceeded / (callsSucceeded + callsFailed)', 'share of all the calls of the trial answered within their deadline'),
  calls_failed_over: m('Calls failed over', 'calls', 'sum', 'calls answered by another replica than the first they went to', 'replica client: callsFailedOver', 'calls answered by another replica than the first they went to, over the trial'),
  hedged_copies: m('Hedged copies', 'calls', 'sum', 'second copies of calls sent to another replica (hedged requests): the extra load', 'replica client: hedges', 'hedged copies sent over the trial'),
  stale_reads: m('Stale reads', 'calls', 'sum', 'KV_GETs that returned an older value than a write acknowledged before they started', 'replicated workload client: its record of acknowledged writes', 'stale reads over the trial'),
  replication_messages: m('Replication messages', 'messages', 'sum', 'messages the replicas and the view service sent to keep state in step (writes, acknowledgements, snapshots, pings and views)', 'replicas and view service: replicationMessages', 'replication messages over the trial'),
  replicas_up: m('Replicas up', 'count', 'last', 'replicas up (not crashed, restarting or partitioned) at the end of the interval', 'replica hosts: stateName'),
  writes_acked: m('Writes acknowledged', 'calls', 'sum', 'KV_PUTs the client saw acknowledged', 'replicated workload client', 'KV_PUTs acknowledged over the trial'),
  writes_lost: m('Writes lost', 'calls', 'sum', 'acknowledged KV_PUTs whose value the final read of every key did not find', 'replicated workload client: final reads against its record of acknowledged writes', 'acknowledged KV_PUTs lost by the end of the trial (every key read once at the end)'),
  time_to_recover_ms: m('Time to recover', 'ms', 'max', 'after a crash, the longest stretch without an answered call before the next fault (the largest over the crashes)', 'replicated workload client: times of the answered calls', 'largest time to recover after a crash over the trial (empty without a crash)'),
  replica_duplicate_executions: m('Duplicate executions (replicas)', 'calls', 'sum', 'executions of a state-changing request (INCREMENT, KV_PUT) beyond its first, at any replica', 'the simulator\'s ledger of executions', 'state-changing requests executed again over the trial, at any replica (the ledger)'),
  drc_entries: m('Cache entries', 'requests', 'last', 'requests the duplicate request cache remembers, at the end of the interval', 'RPC servers: drc.entries'),

  // Trial results
  completed: m('Completed', '0/1', 'last', 'the trial completed (its mean is the completion rate)', 'the workload'),
  duration_s: m('Duration', 's', 'last', 'from the end of the handshake to the receiver confirming the last byte', 'the transfer'),
  transmissions_per_packet: m('Transmissions per packet', 'ratio', 'mean', '(new DATA + retransmissions) / new DATA', 'sender connection'),
  data_matched: m('Data matched', '0/1', 'last', 'the receiver read exactly the bytes sent, in order, message boundaries included', 'the receiving application'),

  // The summary of a point
  trials: m('Trials', 'count', 'sum', 'trials run at this point', 'the runner'),
  completed_trials: m('Completed trials', 'count', 'sum', 'of those, complete', 'the runner'),
  changed_by_hand: m('Changed by hand', 'count', 'sum', 'of those, changed while they ran by a hand (a knob or a datagram), not by the spec', 'the runner'),

  // Models (experiments/runner/models.ts)
  expected_goodput_bps: m('Expected goodput', 'bit/s', 'mean', "the model's goodput", 'the model'),
  expected_utilisation: m('Expected utilisation', 'ratio', 'mean', "the model's share of time the sender transmits", 'the model'),
  expected_transmissions_per_packet: m('Expected transmissions per packet', 'ratio', 'mean', '1 / (1 - p): transmissions of each packet at loss probability p', 'the model'),
  expected_bdp_packets: m('Bandwidth-delay product', 'packets', 'mean', 'the link rate times the RTT, in packets', 'the model'),
  expected_loss_ratio: m('Expected loss ratio', 'ratio', 'mean', "the model's share of datagrams lost", 'the model'),
  expected_fair_share_bps: m('Expected fair share', 'bit/s', 'mean', "each flow's share of the bottleneck", 'the model'),
  expected_time_to_recover_ms: m('Expected time to recover', 'ms', 'mean', 'after the first crash: the failover timeout (with failover; under primary-backup at least the detection time), or the downtime of one fixed server', 'the model'),
  expected_latency_p50_ms: m('Expected latency', 'ms', 'mean', 'one client round trip, plus one primary-backup round trip under primary-backup', 'the model'),
  expected_latency_p99_ms: m('Expected p99 latency', 'ms', 'mean', 'RTT + E with one replica slowed by E (when it gets over 1% of the calls), at most H + RTT hedged after H', 'the model'),
  expected_duplicate_executions: m('Expected duplicate executions', 'calls', 'mean', 'duplicate executions with the duplicate request cache replicated with the writes: none', 'the model'),
  model_error: m('Model error', 'ratio', 'mean', '(measured - expected) / expected of the figure the model predicts', 'the model and the summary'),
} satisfies Record<string, MetricDef>;

/** Replicas of a replicated run that have columns of their own (replica1_calls ... replica5_up). */
export const REPLICA_COLUMN_COUNT = 5;
type ReplicaIndex = 1 | 2 | 3 | 4 | 5;
/** replicaN_calls and replicaN_up of replicas 1 to REPLICA_COLUMN_COUNT. */
export type ReplicaMetricName = `replica${ReplicaIndex}_calls` | `replica${ReplicaIndex}_up`;

function replicaMetrics(): Record<ReplicaMetricName, MetricDef> {
  const out: Partial<Record<ReplicaMetricName, MetricDef>> = {};
  for (let i = 1 as ReplicaIndex; i <= REPLICA_COLUMN_COUNT; i++) {
    out[`replica${i as ReplicaIndex}_calls`] = m(`Replica ${i}`, 'calls', 'sum', `client calls replica ${i} served: its load (empty when there is no such replica)`, `replica ${i}: callsServed`, `client calls replica ${i} served over the trial`);
    out[`replica${i as ReplicaIndex}_up`] = m(`Replica ${i} up`, '0/1', 'last', `1 when replica ${i} is up at the end of the interval, 0 when it is crashed, restarting or partitioned (events.csv says which; empty when there is no such replica)`, `replica ${i}: its state`);
  }
  return out as Record<ReplicaMetricName, MetricDef>;
}

function flowMetrics(): Record<FlowMetricName, MetricDef> {
  const out: Partial<Record<FlowMetricName, MetricDef>> = {};
  for (let i = 1 as FlowIndex; i <= FLOW_COLUMN_COUNT; i++) {
    out[`flow${i as FlowIndex}_goodput_bps`] = m(`Flow ${i}`, 'bit/s', 'mean', `flow ${i}'s goodput (empty when there is no such flow)`, `receiver connection of flow ${i}: deliveredBytes`, `flow ${i}'s goodput over the last quarter of the run`);
    out[`flow${i as FlowIndex}_cwnd_packets`] = m(`Flow ${i} window`, 'packets', 'last', `flow ${i}'s congestion window (empty without congestion control or such a flow)`, `sender connection of flow ${i}: cwndPackets`);
  }
  return out as Record<FlowMetricName, MetricDef>;
}

/** The name of a declared metric. */
export type MetricName = keyof typeof BASE | FlowMetricName | ReplicaMetricName;

/** Every metric, by name. */
export const METRICS: Readonly<Record<MetricName, MetricDef>> = { ...BASE, ...flowMetrics(), ...replicaMetrics() };

/** Values by metric: a sample, or a trial's results. */
export type MetricRow = Partial<Record<MetricName, number>>;

/** True when `name` is a declared metric. */
export function isMetric(name: string): name is MetricName {
  return Object.hasOwn(METRICS, name);
}

/** The metric called `name`; throws naming it when the registry does not declare it. */
export function metric(name: string): MetricDef {
  if (!isMetric(name)) throw new RangeError(`"${name}" is not a metric the registry declares (core/metrics/registry.ts)`);
  return METRICS[name];
}

/** The flowN_goodput_bps names, flow 1 first. */
export const FLOW_GOODPUT_METRICS = Array.from({ length: FLOW_COLUMN_COUNT }, (_, i) => `flow${i + 1}_goodput_bps` as FlowMetricName);
/** The flowN_cwnd_packets names, flow 1 first. */
export const FLOW_CWND_METRICS = Array.from({ length: FLOW_COLUMN_COUNT }, (_, i) => `flow${i + 1}_cwnd_packets` as FlowMetricName);

/** The replicaN_calls names, replica 1 first. */
export const REPLICA_CALLS_METRICS = Array.from({ length: REPLICA_COLUMN_COUNT }, (_, i) => `replica${i + 1}_calls` as ReplicaMetricName);
/** The replicaN_up names, replica 1 first. */
export const REPLICA_UP_METRICS = Array.from({ length: REPLICA_COLUMN_COUNT }, (_, i) => `replica${i + 1}_up` as ReplicaMetricName);

/** Checks, at build and at run time, that a column list names declared metrics only. */
export function metricList<const L extends readonly MetricName[]>(names: L): L {
  for (const n of names) metric(n);
  if (new Set(names).size !== names.length) throw new RangeError(`a metric list names a column twice: ${names.join(', ')}`);
  return names;
}

/**
 * An axis title for metrics drawn together: their shared unit, "per interval" for counts. Throws
 * when they do not share a unit (a chart of incomparable figures) unless all are counts per interval.
 */
export function axisTitle(names: readonly MetricName[]): string {
  const defs = names.map((n) => METRICS[n]);
  const units = new Set(defs.map((d) => d.unit));
  const counts = defs.every((d) => d.aggregation === 'sum');
  if (units.size === 1) {
    const unit = defs[0]!.unit;
    const text = unit === 'count' ? 'count' : unit;
    return counts ? `${text} per interval` : text;
  }
  if (counts) return 'per interval';
  throw new RangeError(`${names.join(', ')} have different units (${[...units].join(', ')}): draw them on separate charts`);
}

/** Combines a metric's values over intervals, as its aggregation says (NaN values are left out). */
export class MetricAggregator<N extends MetricName> {
  private readonly acc: Record<string, number> = {};
  private readonly n: Record<string, number> = {};

  constructor(readonly names: readonly N[]) {
    this.reset();
  }

  /** Starts over. */
  reset(): void {
    for (const k of this.names) {
      this.acc[k] = Number.NaN;
      this.n[k] = 0;
    }
  }

  /** Adds one sample. */
  add(sample: Readonly<Record<N, number>>): void {
    for (const k of this.names) {
      const v = sample[k];
      if (!Number.isFinite(v)) continue;
      const a = this.acc[k]!;
      const first = this.n[k] === 0;
      this.n[k]!++;
      switch (METRICS[k].aggregation) {
        case 'sum':
          this.acc[k] = first ? v : a + v;
          break;
        case 'last':
          this.acc[k] = v;
          break;
        case 'max':
          this.acc[k] = first ? v : Math.max(a, v);
          break;
        case 'mean':
          this.acc[k] = first ? v : a + (v - a) / this.n[k]!;
          break;
      }
    }
  }

  /** The combined value of a metric (NaN when no sample had one). */
  value(name: N): number {
    return this.acc[name]!;
  }
}
