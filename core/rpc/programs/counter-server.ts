// The counter of counter.x: INCREMENT adds and returns the new value, so every execution shows.
// It also counts its executions per request (client, xid), which lets tests and the lab compare
// what the server's duplicate request cache reports with what really ran.

import type { RpcCallContext, RpcProgramVersion } from '../program.js';
import { counterProgV1Server, type CounterProgV1Handlers } from './counter.js';

/** Requests remembered for the execution log, at most (the oldest go first). */
const MAX_LOGGED_REQUESTS = 1_000_000;

/** A counter and its execution log. */
export class CounterService implements CounterProgV1Handlers {
  /** The counter. */
  value = 0n;
  /** INCREMENT executions. */
  increments = 0;
  /** INCREMENT executions of a request that had already been executed (exact, from the log). */
  repeatedExecutions = 0;
  private readonly seen = new Map<string, number>();

  /** INCREMENT: adds `by` and returns the new value. */
  increment(by: number, ctx: RpcCallContext): bigint {
    this.increments++;
    const key = `${ctx.peer}|${ctx.xid}`;
    const n = this.seen.get(key) ?? 0;
    if (n > 0) this.repeatedExecutions++;
    else if (this.seen.size >= MAX_LOGGED_REQUESTS) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(key, n + 1);
    this.value += BigInt(by);
    return this.value;
  }

  /** GET: the value. */
  get(): bigint {
    return this.value;
  }

  /** RESET: back to zero (the log too). */
  reset(): void {
    this.value = 0n;
    this.increments = 0;
    this.repeatedExecutions = 0;
    this.seen.clear();
  }

  /** ECHO: the payload back. */
  echo(payload: Uint8Array): Uint8Array {
    return payload;
  }

  /** The program table to serve. */
  program(): RpcProgramVersion {
    return counterProgV1Server(this);
  }
}
