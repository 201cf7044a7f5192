// The host's side of the store worker (store-worker.ts): one long-lived thread, started on the
// first call that needs it, that the host's event loop only posts calls to and receives answers
// from, a large answer one piece at a time, each asked for after the loop has had a turn. While
// no call is pending the thread is unref'd, so it never holds a CLI or the app open. A crashed
// thread fails the calls it had with an error naming the call and the crash, and the next call
// starts a new one; close() ends it.

import { Worker } from 'node:worker_threads';
import { compiledModuleUrl } from '../../net/paths.js';
import type { ApiParams, ApiResults, Result, Table } from './contract.js';
import type { StoreMethod, StorePiece, StoreReply, StoreRequest, StoreWorkerData } from './store-worker.js';

/** Where the store worker reads and how much memory it may take. */
export interface StoreClientOptions extends StoreWorkerData {
  /** Heap limit of the worker in MiB (default: Node's); a call that needs more crashes the worker, not the host. */
  heapMb?: number;
}

/** Why a call got no answer: the worker crashed (with what it said), or the host is closing. */
type Unanswered = { kind: 'crashed'; detail: string } | { kind: 'closed' };

interface PendingCall {
  method: StoreMethod;
  resolve: (r: Result<unknown>) => void;
  /** The answer's value while its pieces come in. */
  value: Record<string, unknown> | null;
  piecesLeft: number;
}

/** Appends a piece to the value it belongs to: rows to a table's rows, or text to a string (joined without a copy). */
function addPiece(value: Record<string, unknown>, piece: StorePiece): void {
  if ('text' in piece) value[piece.key] = (value[piece.key] as string) + piece.text;
  else {
    const rows = (value[piece.key] as Table).rows;
    for (const r of piece.rows) rows.push(r);
  }
}

function unanswered(method: StoreMethod, why: Unanswered): Result<never> {
  return { ok: false, error: why.kind === 'closed' ? `${method}: the lab is shutting down` : `${method}: the store worker crashed: ${why.detail}` };
}

/** Performs the host's file calls in the store worker. */
export class StoreClient {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, PendingCall>();
  private nextId = 0;
  private closed = false;

  constructor(private readonly o: StoreClientOptions) {}

  /** Performs one call in the worker (starting it if none runs); resolves with its result, never rejects. */
  call<M extends StoreMethod>(method: M, params: ApiParams<M>): Promise<Result<ApiResults[M]>> {
    if (this.closed) return Promise.resolve(unanswered(method, { kind: 'closed' }));
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { method, resolve: resolve as (r: Result<unknown>) => void, value: null, piecesLeft: 0 });
      // A pending call keeps the process alive until it is answered, as a file read would.
      if (this.pending.size === 1) worker.ref();
      worker.postMessage({ type: 'call', id, method, params } satisfies StoreRequest);
    });
  }

  /** Ends the worker; calls still pending resolve with an error saying the lab is shutting down. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.failPending({ kind: 'closed' });
    await worker?.terminate();
  }

  private start(): Worker {
    const data: StoreWorkerData = { runsDir: this.o.runsDir, specsDir: this.o.specsDir };
    const worker = new Worker(compiledModuleUrl(import.meta.url, './store-worker.js'), { workerData: data, resourceLimits: this.o.heapMb === undefined ? undefined : { maxOldGenerationSizeMb: this.o.heapMb } });
    worker.on('message', (m: StoreReply) => this.answer(worker, m));
    worker.on('error', (e) => this.lose(worker, { kind: 'crashed', detail: e.message }));
    worker.on('messageerror', (e) => {
      this.lose(worker, { kind: 'crashed', detail: `an answer could not be read: ${e.message}` });
      void worker.terminate();
    });
    worker.on('exit', (code) => this.lose(worker, { kind: 'crashed', detail: `it exited with code ${code}` }));
    this.worker = worker;
    return worker;
  }

  private answer(worker: Worker, m: StoreReply): void {
    const call = this.pending.get(m.id);
    if (call === undefined) return;
    if (m.type === 'answer') {
      if (!m.result.ok || m.pieces === 0) return this.settle(m.id, m.result);
      call.value = m.result.value as Record<string, unknown>;
      call.piecesLeft = m.pieces;
    } else {
      addPiece(call.value!, m.piece);
      if (--call.piecesLeft === 0) return this.settle(m.id, { ok: true, value: call.value });
    }
    // Asked for after the loop's turn, not from here: the port delivers every message that arrives
    // while it is delivering, so a piece asked for now would come within this same task, and the
    // next one, until the whole answer had.
    setImmediate(() => {
      if (this.worker === worker && this.pending.has(m.id)) worker.postMessage({ type: 'next', id: m.id } satisfies StoreRequest);
    });
  }

  private settle(id: number, result: Result<unknown>): void {
    const call = this.pending.get(id)!;
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker?.unref();
    call.resolve(result);
  }

  /** The worker is gone: every call pending was sent to it, and the next call starts a new one. */
  private lose(worker: Worker, why: Unanswered): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.failPending(why);
  }

  private failPending(why: Unanswered): void {
    const calls = [...this.pending.values()];
    this.pending.clear();
    for (const c of calls) c.resolve(unanswered(c.method, why));
  }
}
