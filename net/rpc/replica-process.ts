// Replica processes on loopback (replica-main.ts), started, crashed (SIGKILL) and restarted by a
// run: the I/O side of replicated servers as separate servers.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { compiledModuleUrl } from '../paths.js';
import type { ReplicaProcessOptions, ReplicaReport } from './replica-main.js';

/** One replica process: its port, its last report, and what it is doing. */
export class ReplicaProcess {
  /** Its host (loopback) and its UDP port (known once it is ready; kept across restarts). */
  readonly host = '127.0.0.1';
  /** What a crash and a restart are, for events.csv. */
  readonly crashText = 'crash (SIGKILL: memory lost)';
  readonly restartText = 'restart (a new process on its port)';
  port = 0;
  /** Its last report (calls served since it started, counter), and the calls of its earlier lives. */
  lastReport: ReplicaReport = { callsServed: 0, counter: '0', replicationMessages: 0, role: 'primary' };
  servedBefore = 0;
  replicationBefore = 0;
  state: 'starting' | 'up' | 'crashed' = 'starting';
  private child: ChildProcess | null = null;

  constructor(private readonly o: Omit<ReplicaProcessOptions, 'port'>) {}

  /** Client calls it served, over every life. */
  get callsServed(): number {
    return this.servedBefore + this.lastReport.callsServed;
  }

  /** Its counter's value, as it last reported it. */
  get counter(): string {
    return this.lastReport.counter;
  }

  /** Replication messages it sent, over every life. */
  get replicationMessages(): number {
    return this.replicationBefore + this.lastReport.replicationMessages;
  }

  /**
   * Starts it (on `port`, or its old port after a crash) and resolves with the port once it serves
   * and is registered. `extra` completes its options (primary-backup: the ports of the others).
   */
  start(port = this.port, extra: Partial<ReplicaProcessOptions> = {}): Promise<number> {
    const script = fileURLToPath(compiledModuleUrl(import.meta.url, './replica-main.js'));
    const child = fork(script, [JSON.stringify({ ...this.o, ...extra, port } satisfies ReplicaProcessOptions)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.child = child;
    this.state = 'starting';
    this.servedBefore += this.lastReport.callsServed;
    this.replicationBefore += this.lastReport.replicationMessages;
    this.lastReport = { callsServed: 0, counter: '0', replicationMessages: 0, role: 'primary' };
    child.on('message', (m) => {
      if (this.child === child) this.lastReport = m as ReplicaReport;
    });
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /ready (\d+)/.exec(out);
        if (m !== null && this.state === 'starting') {
          this.port = Number(m[1]);
          this.state = 'up';
          resolve(this.port);
        }
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code, signal) => {
        if (this.state === 'starting') reject(new Error(`replica ${this.o.index + 1} exited before serving (${signal ?? `code ${code}`}): ${err.trim()}`));
      });
    });
  }

  /** Crashes it: SIGKILL, its memory lost. */
  kill(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
    this.state = 'crashed';
  }

  /** Stops it the proper way (it takes its registration back); resolves when it exited. */
  stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 2000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
