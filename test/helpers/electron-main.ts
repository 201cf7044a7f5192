// Runs the built Electron main process (dist/electron/main.js of a staged app) under plain Node with
// the stand-in 'electron' of electron-main/fake-electron.mjs, and drives it over the child's IPC
// channel: the tests of the main process's wiring, without Electron's binary.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { until } from './until.js';

const REGISTER = fileURLToPath(new URL('./electron-main/register.mjs', import.meta.url));

/** What the stand-in reports on its own: sends to the page, dialogs, reveals, unhandled rejections, quit. */
export interface MainEvent {
  type: 'send' | 'dialog' | 'reveal' | 'unhandled-rejection' | 'quit' | 'exit';
  channel?: string;
  payload?: unknown;
  kind?: string;
  title?: string;
  content?: string;
  path?: string;
  reason?: string;
  code?: number;
}

/** A running main process. */
export interface MainProcess {
  /** Runs one op of the stand-in (see `ops` in fake-electron.mjs). */
  op<T = unknown>(name: string, args?: Record<string, unknown>): Promise<T>;
  /** Everything the stand-in reported so far. */
  readonly events: MainEvent[];
  /** What the process printed on stderr so far. */
  stderr(): string;
  /** The exit code (null after a signal). */
  readonly exited: Promise<number | null>;
  /** Waits for the page's window to have loaded. */
  loaded(): Promise<void>;
  kill(): void;
}

/** Starts `appDir`'s dist/electron/main.js; `env` adds variables (FAKE_ELECTRON_*, PACKETLAB_*). */
export function startMain(appDir: string, env: Record<string, string>): MainProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', REGISTER, join(appDir, 'dist', 'electron', 'main.js')], {
    cwd: appDir,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => (stderr += d.toString()));
  const events: MainEvent[] = [];
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (m: { id?: number; ok?: boolean; value?: unknown; error?: string; event?: MainEvent }) => {
    if (m.event !== undefined) events.push(m.event);
    else if (m.id !== undefined) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.ok === true) p?.resolve(m.value);
      else p?.reject(new Error(m.error));
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      for (const p of pending.values()) p.reject(new Error(`the main process exited (${code}) before answering; stderr: ${stderr}`));
      pending.clear();
      resolve(code);
    }),
  );
  const op = <T>(name: string, args: Record<string, unknown> = {}) =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) return reject(new Error(`the main process is gone; stderr: ${stderr}`));
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, op: name, args });
    });
  return {
    op,
    events,
    stderr: () => stderr,
    exited,
    loaded: () =>
      until(
        () => `the window to load; stderr: ${stderr}; events: ${JSON.stringify(events)}`,
        async () => {
          if (!child.connected) throw new Error(`the main process exited; stderr: ${stderr}; events: ${JSON.stringify(events)}`);
          const s = await op<{ windows: { url: string }[] }>('state');
          return s.windows.length > 0 && s.windows[0]!.url !== '';
        },
        20_000,
        50,
      ),
    kill: () => child.kill('SIGKILL'),
  };
}
