// The key-value store of kv.x, in memory and bounded: at most KV_SERVER_MAX_ENTRIES keys.

import type { RpcProgramVersion } from '../program.js';
import { XDR_MAX_DEPTH } from '../xdr.js';
import { KvStatus, kvProgV1Server, type KvEntry, type KvGetResult, type KvKeys, type KvListPtr, type KvProgV1Handlers, type KvPutArgs, type KvPutResult, type KvResults } from './kv.js';

/**
 * Keys one store holds at most: a demo server must not grow without bound, and KV_LIST answers
 * the whole store as a linked list, one level of XDR nesting per entry, which readers (the lab's
 * client among them) refuse beyond XDR_MAX_DEPTH levels. So the store never holds more.
 */
export const KV_SERVER_MAX_ENTRIES = XDR_MAX_DEPTH;

/** An in-memory key-value store. */
export class KvService implements KvProgV1Handlers {
  private readonly entries = new Map<string, KvEntry>();

  /** Keys stored. */
  get size(): number {
    return this.entries.size;
  }

  /** KV_PUT: stores the value with a new revision, if the expected revision (when given) matches. */
  kvPut(a: KvPutArgs): KvPutResult {
    const cur = this.entries.get(a.key);
    if (a.expected_revision !== null && (cur?.revision ?? 0n) !== a.expected_revision) {
      return { status: KvStatus.KV_REVISION_MISMATCH, current_revision: cur?.revision ?? 0n };
    }
    if (cur === undefined && this.entries.size >= KV_SERVER_MAX_ENTRIES) return { status: KvStatus.KV_FULL };
    const revision = (cur?.revision ?? 0n) + 1n;
    this.entries.set(a.key, { key: a.key, value: a.value.slice(), revision });
    return { status: KvStatus.KV_OK, revision };
  }

  /** KV_GET: the entry, or KV_NOT_FOUND. */
  kvGet(key: string): KvGetResult {
    const e = this.entries.get(key);
    return e === undefined ? { status: KvStatus.KV_NOT_FOUND } : { status: KvStatus.KV_OK, entry: e };
  }

  /** KV_DELETE: true when the key existed. */
  kvDelete(key: string): boolean {
    return this.entries.delete(key);
  }

  /** KV_LIST: the entries whose key starts with the prefix, as a linked list in key order. */
  kvList(prefix: string): KvListPtr {
    const keys = [...this.entries.keys()].filter((k) => k.startsWith(prefix)).sort();
    let list: KvListPtr = null;
    for (let i = keys.length - 1; i >= 0; i--) list = { entry: this.entries.get(keys[i]!)!, next: list };
    return list;
  }

  /** KV_GET_MANY: one result per key. */
  kvGetMany(k: KvKeys): KvResults {
    return k.keys.map((key) => this.kvGet(key));
  }

  /** Every entry, in insertion order (a replica's snapshot of its store). */
  snapshot(): KvEntry[] {
    return [...this.entries.values()];
  }

  /** Stores an entry as it is, revision included (a backup applying its primary's write); revision 0 deletes the key. */
  restore(e: KvEntry): void {
    if (e.revision === 0n) this.entries.delete(e.key);
    else this.entries.set(e.key, { key: e.key, value: e.value.slice(), revision: e.revision });
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.clear();
  }

  /** The program table to serve. */
  program(): RpcProgramVersion {
    return kvProgV1Server(this);
  }
}
