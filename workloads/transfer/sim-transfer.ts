// A reliable transfer in the discrete-event simulator: a bulk sender (host 0) and a packetlab
// listener (host 1) joined by two emulated link directions. Fully reproducible from the seed.

import type { Endpoint } from '../../core/endpoint.js';
import type { BulkReceiver, BulkSender } from '../../core/apps/bulk.js';
import { labSessionFactory, listenerDefaultsOf } from '../../core/apps/services.js';
import type { Capture } from '../../core/capture/capture.js';
import { captureSimLinks } from '../../core/capture/runs.js';
import { Link } from '../../core/impair/link.js';
import { DEFAULT_LISTENER_CAPS, Listener } from '../../core/listener.js';
import { TransferMeter, type ReceiverCounters, type TransferSample } from '../../core/metrics/transfer-meter.js';
import { Simulator } from '../../core/sim/simulator.js';
import { deriveSeed } from '../../core/util/rng.js';
import { makeBulkSender, summarizeTransfer, type TransferSetup, type TransferSummary } from '../../core/transfer/setup.js';

/** Callbacks of a running transfer. */
export interface TransferHooks {
  /** One sample per interval. */
  onSample?(sample: TransferSample): void;
  /** Records every datagram of both link directions (the caller closes it). */
  capture?: Capture;
  /** Called once the transfer is wired, before it starts (to attach tracers: the auditor). */
  onBuild?(t: SimTransfer): void;
}

/** The pieces of a simulated transfer, for callers that drive or inspect it themselves. */
export interface SimTransfer {
  sim: Simulator;
  sender: BulkSender;
  listener: Listener;
  forward: Link;
  reverse: Link;
  /** The receiving session opened last (null before the listener accepted). */
  receiver(): BulkReceiver | null;
  /**
   * The counters of every receiving session of the transfer, summed: a handshake the listener
   * forgot and opened again (core/listener.ts) leaves two sessions, and what the first one counted
   * (a corrupted datagram it caught) is part of the transfer too.
   */
  receiverCounters(): ReceiverCounters | null;
}

function sumCounters(receivers: readonly BulkReceiver[]): ReceiverCounters {
  const sum: Record<string, number> = {};
  for (const r of receivers) {
    for (const [k, v] of Object.entries(r.conn.counters)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
  }
  return sum;
}

/**
 * Wires a simulated transfer without running it. `wrapReceiver` may put something (a simulated
 * socket buffer) between the network and the receiving host.
 */
export function buildSimTransfer(setup: TransferSetup, wrapReceiver: (e: Endpoint) => Endpoint = (e) => e): SimTransfer {
  const sender = makeBulkSender(setup, 1);

  const receivers: BulkReceiver[] = [];
  const t = setup.transport;
  const factory = labSessionFactory(listenerDefaultsOf(t));
  const listener = new Listener(
    DEFAULT_LISTENER_CAPS,
    (ctx) => {
      const s = factory(ctx);
      if (!('refuse' in s)) receivers.push(s as BulkReceiver);
      return s;
    },
    deriveSeed(setup.seed, 'listener'),
  );
  const forward = new Link(setup.forward, deriveSeed(setup.seed, 'forward'));
  const reverse = new Link(setup.reverse, deriveSeed(setup.seed, 'reverse'));
  const sim = new Simulator([sender, wrapReceiver(listener)], [forward, reverse], (from) => (from === 0 ? forward : reverse));
  return { sim, sender, listener, forward, reverse, receiver: () => receivers.at(-1) ?? null, receiverCounters: () => (receivers.length === 0 ? null : sumCounters(receivers)) };
}

/** Runs a transfer to its end in virtual time and returns the summary. */
export function runSimTransfer(setup: TransferSetup, hooks: TransferHooks = {}): TransferSummary {
  const t = buildSimTransfer(setup);
  const { sim, sender } = t;
  if (hooks.capture !== undefined) captureSimLinks(hooks.capture, t.forward, t.reverse);
  hooks.onBuild?.(t);
  const receiverView = () => {
    const r = t.receiver();
    return r === null ? null : { counters: t.receiverCounters()!, rcvBufferedBytes: r.conn.rcvBufferedBytes };
  };
  const meter = new TransferMeter({ sender: sender.conn, receiver: receiverView, forward: t.forward, reverse: t.reverse }, 0);
  let nextSample = setup.intervalMs;
  let lastSample = 0;
  if (hooks.onSample !== undefined) {
    const onSample = hooks.onSample;
    sim.addTicker({
      pollTimeout: () => (sender.state === 'done' || sender.state === 'failed' ? null : nextSample),
      handleTimeout: (now) => {
        onSample(meter.sample(now));
        lastSample = now;
        nextSample = now + setup.intervalMs;
      },
    });
  }
  const wallStart = performance.now();
  sender.start(0);
  const why = sim.run({ untilMs: setup.timeLimitMs, stop: () => sender.state === 'done' || sender.state === 'failed' });
  const end = sim.now;
  if (hooks.onSample !== undefined && end > lastSample) hooks.onSample(meter.sample(end));
  const status = sender.state === 'done' ? 'complete' : sender.state === 'failed' ? 'failed' : why === 'time' ? 'timeout' : 'failed';
  // A transfer cut short ends here: the sender aborts (its peer gets an RST), so that the drain
  // below does not carry it on past the time limit.
  if (status === 'timeout' || (status === 'failed' && sender.state !== 'failed')) sender.abort(end, status === 'timeout' ? `did not finish within ${setup.timeLimitMs} ms of virtual time` : `the simulation stopped (${why})`);
  // Let the lingering ends and the links drain so that the counters are final.
  sim.run({ untilMs: end + 60_000 });
  const wallS = (performance.now() - wallStart) / 1000;
  const summary = summarizeTransfer(
    'sim',
    setup,
    sender,
    status,
    t.receiverCounters(),
    t.forward.counters,
    t.reverse.counters,
    t.listener.counters.checksumFailures,
  );
  if (status === 'timeout' && summary.failure === null) summary.failure = `did not finish within ${setup.timeLimitMs} ms of virtual time`;
  summary.simEvents = sim.events;
  summary.simEventsPerSecond = wallS > 0 ? sim.events / wallS : Number.NaN;
  return summary;
}
