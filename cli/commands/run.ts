// `packetlab run`, `packetlab list`, `packetlab runs` and `packetlab export`: experiments from the
// library or a spec file, their results folders, and combined CSV.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { KNOB_SECTIONS } from '../../experiments/knobs.js';
import { loadLibrary, resolveSpec } from '../../experiments/library.js';
import { formatSpecErrors, type KnobValue } from '../../experiments/spec.js';
import { ExperimentRun, RunSetupError, parseSetArgs, type RunStreamEvent } from '../../experiments/runner/run.js';
import { trialConfig } from '../../experiments/runner/config.js';
import { SPEED_RANGE } from '../../experiments/runner/pace.js';
import { DEFAULT_EFFECT_WINDOW_S, EFFECT_WINDOW_RANGE_S } from '../../experiments/runner/effects.js';
import { WORKLOADS } from '../../experiments/kinds/registry.js';
import { checkRunFiles, combinedCsv, defaultRunsDir, describeDamage, findRun, listRuns } from '../../experiments/runner/store.js';
import { UsageError } from '../options.js';
import { Progress, fmt, jsonLine, stopSignal } from '../output.js';
import { numberArg } from '../args.js';
import { parseBytes } from '../../core/units.js';
import { MIN_CAPTURE_BYTES } from '../../core/capture/capture.js';

function knobList(): string {
  return Object.entries(KNOB_SECTIONS)
    .map(([s, list]) => `  ${s}: ${list.map((k) => k.key).join(', ')}`)
    .join('\n');
}

function cellText(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return '-';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toPrecision(4);
    return Number.isInteger(v) ? String(v) : v.toFixed(a >= 100 ? 1 : 4);
  }
  return String(v);
}

function table(rows: Record<string, unknown>[], columns: string[]): string {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cellText(r[c]).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(columns), ...rows.map((r) => line(columns.map((c) => cellText(r[c]))))].join('\n');
}


/**
 * A run named on the command line: a run folder by its path (the user's own, typed here), else a
 * run of the results folder. Only the command line takes paths; the app's calls go to findRun.
 */
function runArg(root: string, ref: string): string {
  if (existsSync(join(ref, 'run.json'))) return resolve(ref);
  return findRun(root, ref);
}

/** Registers run, list, runs and export. */
export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run an experiment (a library name or a spec file): every sweep point x repetitions, results in a run folder')
    .argument('<spec>', 'library experiment name (packetlab list) or path of a spec .json')
    .option('--set <knob=value...>', 'override a knob, e.g. --set forward.lossProbability=5% (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--net <where>', 'sim, loopback, or HOST:PORT of a packetlab peer agent (overrides the spec)')
    .option('--out <dir>', `results folder (default ${defaultRunsDir()})`)
    .option('--token <token>', 'token of the peer agent (default $PACKETLAB_TOKEN; visible in ps, prefer --token-file)')
    .option('--token-file <file>', 'read the peer agent token from the first line of a file')
    .option('--quick', "run the spec's short version (what CI runs)")
    .option('--pcap', "record every trial's datagrams to capture-pPOINT-rREP.pcapng in the run folder (dropped, delayed, duplicated and corrupted ones annotated; docs/wireshark.md)")
    .option('--pcap-max-size <size>', 'most bytes of each trial capture; a bare number is bytes (default 100 MB)', numberArg(parseBytes, MIN_CAPTURE_BYTES, 1e12, '--pcap-max-size', true))
    .option('--json', 'stream JSON lines (run-start, trial-start, sample, event, trial-end, point, run-end) on stdout')
    .option('--check', 'validate the spec and the overrides, print the points, and exit')
    .option('--explore <point>', 'explore one sweep point (its number from --check, from 0): one trial without an end of its own, until Ctrl-C (at most an hour)', numberArg(Number, 0, 100_000, '--explore', true))
    .option('--effect-window <s>', `seconds before and after each change that its effect event in events.csv compares, ${EFFECT_WINDOW_RANGE_S.min} to ${EFFECT_WINDOW_RANGE_S.max} (default ${DEFAULT_EFFECT_WINDOW_S})`, numberArg(Number, EFFECT_WINDOW_RANGE_S.min, EFFECT_WINDOW_RANGE_S.max, '--effect-window'))
    .option('--speed <x>', `simulator pace: virtual seconds per real second, ${SPEED_RANGE.min} to ${SPEED_RANGE.max} (default as fast as possible)`, numberArg(Number, SPEED_RANGE.min, SPEED_RANGE.max, '--speed'))
    .addHelpText('after', `\nKnobs (SECTION.KEY, units as in docs/experiments.md):\n${knobList()}\n\nExit codes: 0 complete, 1 failed, stopped or peer lost, 2 bad spec or arguments.`)
    .action(async (ref: string, opts: { set?: string[]; net?: string; out?: string; quick?: boolean; json?: boolean; check?: boolean; token?: string; tokenFile?: string; pcap?: boolean; pcapMaxSize?: number; explore?: number; speed?: number; effectWindow?: number }) => {
      const loaded = resolveSpec(ref);
      if (!loaded.ok) {
        process.stderr.write(`${formatSpecErrors(loaded.file, loaded.errors)}\n`);
        process.exitCode = 2;
        return;
      }
      let run: ExperimentRun;
      try {
        const set: Record<string, KnobValue> = parseSetArgs(opts.set ?? []);
        if (opts.pcapMaxSize !== undefined && opts.pcap !== true) throw new UsageError('--pcap-max-size needs --pcap');
        let peerToken = opts.token;
        if (peerToken === undefined && opts.tokenFile !== undefined) {
          try {
            peerToken = readFileSync(opts.tokenFile, 'utf8').split('\n', 1)[0]!.trim();
          } catch (e) {
            throw new UsageError(`--token-file ${opts.tokenFile}: ${(e as Error).message}`);
          }
        }
        run = new ExperimentRun({ spec: loaded.spec, specFile: loaded.file, set, network: opts.net ?? null, quick: opts.quick === true, outDir: opts.out, peerToken, pcapMaxBytes: opts.pcap === true ? (opts.pcapMaxSize ?? 100e6) : 0, explore: opts.explore, speed: opts.speed, effectWindowS: opts.effectWindow, onEvent: (e) => onEvent(e) });
      } catch (e) {
        if (e instanceof RunSetupError) {
          const detail = e.errors.length > 0 ? formatSpecErrors(loaded.file, e.errors) : e.message;
          process.stderr.write(`${detail}\n`);
          process.exitCode = 2;
          return;
        }
        throw e;
      }
      if (opts.check === true) {
        console.log(`${loaded.file}: valid; ${run.points.length} point(s) x ${run.spec.repetitions} repetition(s) on ${run.spec.network}`);
        for (const p of run.points) console.log(`  point ${p.index}: ${Object.entries(p.axes).map(([k, v]) => `${k}=${String(v)}`).join(', ') || '(no sweep)'}`);
        return;
      }
      const progress = new Progress();
      const summaries: Record<string, unknown>[] = [];
      let trialText = '';
      let total = 0;
      const json = opts.json === true;
      const onEvent = (e: RunStreamEvent) => {
        if (json) {
          jsonLine(e.type === 'run-start' ? { ...e, points: e.points.length } : e);
          return;
        }
        switch (e.type) {
          case 'run-start':
            total = e.trials;
            console.log(`${e.name}: ${e.points.length} point(s) x ${e.repetitions} repetition(s) on ${e.network}\nresults: ${e.dir}`);
            break;
          case 'trial-start':
            trialText = `trial ${e.trial}/${total}  point ${e.point + 1}${Object.keys(e.axes).length > 0 ? ` (${Object.entries(e.axes).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : ''}  rep ${e.repetition + 1}`;
            progress.update(trialText);
            break;
          case 'sample':
            progress.update(`${trialText}  t=${fmt(e.sample.time_s!, 1)} s`);
            break;
          case 'event':
            if (e.event.kind === 'set' || e.event.kind === 'error') {
              progress.clear();
              console.log(`  t=${e.event.timeS.toFixed(2)} s ${e.event.kind === 'set' ? `${e.event.knob}: ${String(e.event.before)} -> ${String(e.event.after)}` : `error: ${e.event.detail}`}`);
            }
            break;
          case 'trial-end':
            if (e.status !== 'complete') {
              progress.clear();
              console.log(`  trial point ${e.point + 1} rep ${e.repetition + 1}: ${e.status}${e.failure !== null ? ` (${e.failure})` : ''}`);
            }
            break;
          case 'point':
            summaries.push(e.summary);
            break;
          case 'run-end':
            progress.clear();
            break;
        }
      };
      const stop = stopSignal();
      stop.signal.addEventListener('abort', () => run.stop('interrupted (SIGINT/SIGTERM)'));
      const result = await run.start();
      stop.dispose();
      if (!json && summaries.length > 0) {
        const axes = run.spec.sweep.length === 0 ? [] : Object.keys(run.points[0]!.axes);
        const headline = WORKLOADS[trialConfig(run.spec, run.points[0]!, 0).workload.kind].headline;
        const y = run.spec.plot?.y.flatMap((c) => [`${c}_mean`, `${c}_ci95`]) ?? headline.flatMap((c, i) => (i === 0 ? [`${c}_mean`, `${c}_ci95`] : [`${c}_mean`]));
        const extra = run.spec.model !== undefined ? Object.keys(summaries[0]!).filter((c) => c.startsWith('expected_') || c === 'model_error') : [];
        const cols = [...axes, 'completed_trials', ...y.filter((c) => c in summaries[0]!), ...extra];
        console.log(`\n${table(summaries, cols)}`);
      }
      if (!json) console.log(`\n${result.status}${result.reason !== null ? `: ${result.reason}` : ''}\nresults: ${result.dir}`);
      // An explored point runs until stopped: that is its normal end.
      const explored = opts.explore !== undefined && result.status === 'stopped';
      process.exitCode = result.status === 'complete' || explored ? 0 : 1;
    });

  program
    .command('list')
    .description('list the experiment library, one line each')
    .option('--json', 'one JSON object per experiment')
    .action((opts: { json?: boolean }) => {
      for (const { file, spec } of loadLibrary()) {
        if (opts.json === true) jsonLine({ name: spec.name, file, title: spec.title, concepts: spec.concepts, network: spec.network, description: spec.description });
        else console.log(`${spec.name.padEnd(28)} ${spec.title}  [${spec.concepts.join(', ')}]`);
      }
    });

  program
    .command('runs')
    .description('list past runs (newest first)')
    .option('--out <dir>', `results folder (default ${defaultRunsDir()})`)
    .option('--json', 'one JSON object per run')
    .action((opts: { out?: string; json?: boolean }) => {
      const root = opts.out ?? defaultRunsDir();
      const runs = listRuns(root);
      if (runs.length === 0 && opts.json !== true) console.log(`no runs in ${root}`);
      for (const { dir, record: r } of runs) {
        const warnings = checkRunFiles(dir).map(describeDamage);
        if (opts.json === true) jsonLine({ id: r.id, dir, name: r.name, status: r.status, reason: r.reason, startedAt: r.startedAt, endedAt: r.endedAt, network: r.network, trials: r.trials.length, warnings });
        else {
          console.log(`${basename(dir).padEnd(44)} ${r.status.padEnd(11)} ${String(r.trials.length).padStart(4)} trials  ${r.network}${r.reason !== null ? `  (${r.reason})` : ''}`);
          for (const w of warnings) console.log(`    ${w}`);
        }
      }
    });

  program
    .command('export')
    .description('write one CSV combining the samples (or summaries) of one or more runs')
    .argument('<runs...>', 'run folder, run id, unique prefix, experiment name (its newest run) or "latest"')
    .requiredOption('--csv <file>', 'CSV file to write ("-" for stdout)')
    .option('--summary', 'combine summary.csv instead of samples.csv')
    .option('--out <dir>', `results folder to look in (default ${defaultRunsDir()})`)
    .action((refs: string[], opts: { csv: string; summary?: boolean; out?: string }) => {
      const root = opts.out ?? defaultRunsDir();
      let dirs: string[];
      try {
        dirs = refs.map((r) => runArg(root, r));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const { csv: text, warnings } = combinedCsv(dirs, opts.summary === true ? 'summary' : 'samples');
      // On stderr, so that `--csv -` stays CSV: the export holds every whole row there is.
      for (const w of warnings) process.stderr.write(`packetlab export: ${w}\n`);
      if (opts.csv === '-') process.stdout.write(text);
      else {
        writeFileSync(opts.csv, text);
        console.log(`wrote ${opts.csv} (${text.split('\n').length - 2} rows from ${dirs.length} run(s))`);
      }
    });
}
