// What a link counts, declared once: the counters of one direction, the ones samples report per
// direction (the fwd_, rev_ and link_ metrics, the meters' columns and the loss chart derive from
// LINK_COUNTERS) and every cause of a drop (linkDrops). A module of its own so that the metric
// registry, which the app imports, does not pull the link itself in.

/** Cumulative counters of one link direction. */
export class LinkCounters {
  /** Datagrams offered to the link. */
  offeredPackets = 0;
  /** Bytes offered. */
  offeredBytes = 0;
  /** Datagrams delivered (duplicates included). */
  deliveredPackets = 0;
  /** Bytes delivered. */
  deliveredBytes = 0;
  /** Bernoulli losses. */
  dropsRandom = 0;
  /** Gilbert-Elliott losses. */
  dropsBurst = 0;
  /** Drops at the full bottleneck queue. */
  dropsQueue = 0;
  /** Datagrams too long for the MTU. */
  dropsMtu = 0;
  /** Datagrams dropped because the link already held its memory cap in flight. */
  dropsMemory = 0;
  /** Datagrams a user dropped by hand while they were in flight (teaching mode). */
  dropsManual = 0;
  /** Datagrams a user corrupted, duplicated (the copies) or delayed by hand, counted when they arrive. */
  corruptedManual = 0;
  duplicatedManual = 0;
  delayedManual = 0;
  /** Extra copies made. */
  duplicated = 0;
  /** Datagrams with flipped bits. */
  corrupted = 0;
  /** Of those, datagrams delivered (the others were still in flight). */
  corruptedDelivered = 0;
  /** Datagrams held back for reordering. */
  heldBack = 0;
  /** Datagrams delivered after one sent later (actual order inversions). */
  reordered = 0;
}

/** A counter of LinkCounters that samples report per direction: its column suffix and the words of its metrics. */
export interface LinkCounterColumn {
  counter: keyof LinkCounters;
  /** The column is `fwd_`, `rev_` or `link_` and this. */
  column: string;
  /** For people, after "Forward: ". */
  label: string;
  /** What it counts, after "forward datagrams ". */
  what: string;
}

/**
 * The link's counters a sample reports, in column order: the fwd_, rev_ and link_ metrics, the
 * meters' columns and the loss chart derive from this list, so a new stage that counts something
 * is one entry here.
 */
export const LINK_COUNTERS = [
  { counter: 'dropsRandom', column: 'drops_random', label: 'random drops', what: 'the Bernoulli loss dropped' },
  { counter: 'dropsBurst', column: 'drops_burst', label: 'burst drops', what: 'the Gilbert-Elliott loss dropped' },
  { counter: 'dropsQueue', column: 'drops_queue', label: 'queue drops', what: 'the full bottleneck queue dropped' },
  { counter: 'dropsMtu', column: 'drops_mtu', label: 'MTU drops', what: 'longer than the MTU, dropped' },
  { counter: 'duplicated', column: 'duplicated', label: 'duplicated', what: 'the link duplicated (the copies)' },
  { counter: 'corrupted', column: 'corrupted', label: 'corrupted', what: 'with flipped bits' },
  { counter: 'reordered', column: 'reordered', label: 'reordered', what: 'delivered after one sent later' },
] as const satisfies readonly LinkCounterColumn[];

/** The column suffix of a reported link counter. */
export type LinkColumn = (typeof LINK_COUNTERS)[number]['column'];

/** Every cause of a drop, each with its counter (counted once) and its name for people. */
export const DROP_CAUSES = [
  { counter: 'dropsRandom', cause: 'Bernoulli' },
  { counter: 'dropsBurst', cause: 'Gilbert-Elliott' },
  { counter: 'dropsQueue', cause: 'full queue' },
  { counter: 'dropsMtu', cause: 'over the MTU' },
  { counter: 'dropsMemory', cause: 'memory cap' },
  { counter: 'dropsManual', cause: 'by hand' },
] as const satisfies readonly { counter: keyof LinkCounters; cause: string }[];

/** True for the counter of a cause of drops. */
export function isDropCounter(counter: keyof LinkCounters): boolean {
  return DROP_CAUSES.some((d) => d.counter === counter);
}

/** Datagrams a link direction dropped, every cause counted once: the one definition of a link's drops. */
export function linkDrops(c: LinkCounters): number {
  let n = 0;
  for (const d of DROP_CAUSES) n += c[d.counter];
  return n;
}

/** The reported counters in words, drops first: "3 random, 0 burst, 0 queue, 0 MTU drops; 2 duplicated, 1 corrupted, 0 reordered". */
export function linkCountersText(c: LinkCounters): string {
  const drops: string[] = [];
  const others: string[] = [];
  for (const l of LINK_COUNTERS) {
    if (isDropCounter(l.counter)) drops.push(`${c[l.counter]} ${l.label.replace(/ drops$/, '')}`);
    else others.push(`${c[l.counter]} ${l.label}`);
  }
  return `${drops.join(', ')} drops; ${others.join(', ')}`;
}
