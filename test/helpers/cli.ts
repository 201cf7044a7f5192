// Runs the built CLI (npm test builds first) and captures its output and exit code.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { until } from './until.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `packetlab ...args` from the project root. */
export function cli(args: string[], timeoutMs = 60_000): CliResult {
  const r = spawnSync(process.execPath, ['bin/packetlab.js', ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The JSON objects printed one per line. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Runs the CLI without blocking this process (for tests that serve the other end in-process). */
export function cliAsync(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/packetlab.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** A `packetlab peer --json` that listens: the line saying so, and everything it printed so far. */
export interface ListeningAgent {
  listening: Record<string, unknown>;
  output(): string;
}

/**
 * Collects what `child`, a `packetlab peer --json` just started, prints (stdout and stderr) and
 * resolves once it says it listens; fails with its output if it exits first or is not listening
 * within `ms`.
 */
export async function untilAgentListens(child: ChildProcess, ms = 15_000): Promise<ListeningAgent> {
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // Only whole lines: a line may arrive in two pieces.
  await until(() => `the agent to listen; it printed: ${out}`, () => /"type":"listening"[^\n]*\n/.test(out) || child.exitCode !== null, ms);
  const listening = jsonLines(out.slice(0, out.lastIndexOf('\n') + 1)).find((l) => l.type === 'listening');
  if (listening === undefined) throw new Error(`the agent exited with ${child.exitCode} before it listened: ${out}`);
  return { listening, output: () => out };
}
