// The emulated link of `packetlab transfer`, `udp` and `rpc workload`: a named preset for both
// directions (core/impair/presets.ts) with the impairment flags the user gave laid over it, so a
// flag changes one field of the preset and never switches it off.
//
// A simulated run needs some link, and one with no delay and no rate finishes any transfer in no
// time at all, which teaches nothing; so the simulator runs on the lab link unless --preset names
// another. Real sockets already have a network: they emulate nothing unless asked.

import { Option, type Command } from 'commander';
import { NO_IMPAIRMENT, type ImpairmentConfig } from '../core/impair/config.js';
import { LINK_PRESETS, LINK_PRESET_NAMES, linkSummary, type LinkPresetName } from '../core/impair/presets.js';
import { IMPAIRMENT_KNOBS } from '../core/knobs.js';
import { readKnobs } from './options.js';

/** The preset of a simulated run whose command line names none. */
export const DEFAULT_SIM_PRESET = 'lab' satisfies LinkPresetName;

/** The link a run uses, and how to say so. */
export interface ChosenLink {
  /** The preset both directions start from; null on real sockets without --preset. */
  preset: LinkPresetName | null;
  /** Data direction (sender to receiver). */
  forward: ImpairmentConfig;
  /** Return direction (ACKs, replies, reports). */
  reverse: ImpairmentConfig;
  /** Where the run says what it runs on, e.g. "on the lab link (100 Mbit/s, 5 ms each way; --preset ideal for none)". */
  description: string;
}

/** The sentence of --help that says which link a command runs on. */
export function linkHelp(): string {
  const lab = LINK_PRESETS[DEFAULT_SIM_PRESET];
  const labLink = linkSummary({ ...NO_IMPAIRMENT, ...lab.forward }, { ...NO_IMPAIRMENT, ...lab.reverse });
  return `In the simulator the run is on the ${DEFAULT_SIM_PRESET} link (${labLink}, a queue of ${lab.forward.queuePackets} datagrams) unless --preset names another (--preset ideal: no delay, no rate limit, no loss); on real sockets nothing is emulated unless --preset or impairment flags are given. Impairment flags change the preset's fields; they do not switch it off.`;
}

/** Adds --preset. */
export function addPresetOption(cmd: Command, group: string): void {
  cmd.addOption(
    new Option('--preset <name>', `link preset for both directions (docs/experiments.md); impairment flags change its fields (default ${DEFAULT_SIM_PRESET} in the simulator, none on real sockets)`)
      .choices(LINK_PRESET_NAMES)
      .helpGroup(group),
  );
}

/**
 * The link from --preset and the impairment flags. `reverseFlags` says whether the command has
 * --rev- twins; without them the preset alone gives the return direction.
 */
export function chooseLink(o: Record<string, unknown>, net: 'sim' | 'udp', reverseFlags: boolean): ChosenLink {
  const named = o.preset as LinkPresetName | undefined;
  const preset = named ?? (net === 'sim' ? DEFAULT_SIM_PRESET : null);
  const fromPreset = preset === null ? { forward: {}, reverse: {} } : LINK_PRESETS[preset];
  const forwardFlags = readKnobs(o, IMPAIRMENT_KNOBS);
  const reverseSet = reverseFlags ? readKnobs(o, IMPAIRMENT_KNOBS, 'rev-') : {};
  const forward = { ...NO_IMPAIRMENT, ...fromPreset.forward, ...forwardFlags } as ImpairmentConfig;
  const reverse = { ...NO_IMPAIRMENT, ...fromPreset.reverse, ...reverseSet } as ImpairmentConfig;
  const changed = Object.keys(forwardFlags).length + Object.keys(reverseSet).length > 0;
  const summary = linkSummary(forward, reverse);
  let description: string;
  if (preset === null) description = changed ? `with emulated impairment (${summary})` : 'with no emulated impairment (--preset NAME emulates a link)';
  else description = `on the ${preset} link${changed ? ' changed by your flags' : ''} (${summary}${named === undefined ? '; --preset ideal for none' : ''})`;
  return { preset, forward, reverse, description };
}
