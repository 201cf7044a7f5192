// ONC RPC version 2 messages (RFC 5531 section 9): call and reply headers, credentials. Parsing
// fills a reusable header object and returns an error string instead of throwing; emitting writes
// into an XdrWriter. Bodies (arguments, results) follow the header in the same message.

import { XdrReader, XdrWriter } from './xdr.js';

/** RPC protocol version carried in every call (RFC 5531 (9)). */
export const RPC_VERSION = 2;

/** msg_type (RFC 5531 (9)). */
export const MsgType = { CALL: 0, REPLY: 1 } as const;
/** reply_stat. */
export const ReplyStat = { MSG_ACCEPTED: 0, MSG_DENIED: 1 } as const;
/** accept_stat: how an accepted call went. */
export const AcceptStat = { SUCCESS: 0, PROG_UNAVAIL: 1, PROG_MISMATCH: 2, PROC_UNAVAIL: 3, GARBAGE_ARGS: 4, SYSTEM_ERR: 5 } as const;
/** reject_stat: why a call was denied. */
export const RejectStat = { RPC_MISMATCH: 0, AUTH_ERROR: 1 } as const;
/** auth_stat (RFC 5531 (9)): why authentication failed. */
export const AuthStat = {
  AUTH_OK: 0,
  AUTH_BADCRED: 1,
  AUTH_REJECTEDCRED: 2,
  AUTH_BADVERF: 3,
  AUTH_REJECTEDVERF: 4,
  AUTH_TOOWEAK: 5,
  AUTH_INVALIDRESP: 6,
  AUTH_FAILED: 7,
} as const;
/** auth_flavor (RFC 5531 (8.2)). */
export const AuthFlavor = { AUTH_NONE: 0, AUTH_SYS: 1, AUTH_SHORT: 2, AUTH_DH: 3, RPCSEC_GSS: 6 } as const;

/** Most bytes of a credential or verifier body (RFC 5531 (8.2): opaque body<400>). */
export const MAX_AUTH_BYTES = 400;

/** AUTH_SYS credentials (RFC 5531 appendix A). */
export interface AuthSys {
  stamp: number;
  machineName: string;
  uid: number;
  gid: number;
  gids: number[];
}

/** The credential a client sends. */
export type Credential = { flavor: typeof AuthFlavor.AUTH_NONE } | { flavor: typeof AuthFlavor.AUTH_SYS; sys: AuthSys };

/** Names of the auth_stat values, for messages. */
export function authStatName(s: number): string {
  return Object.entries(AuthStat).find(([, v]) => v === s)?.[0] ?? `auth_stat ${s}`;
}

/** Encodes a credential (flavor and body) once, so calls can copy the bytes. */
export function encodeCredential(c: Credential): Uint8Array {
  const w = new XdrWriter(64);
  if (c.flavor === AuthFlavor.AUTH_NONE) {
    w.word(0);
    w.word(0);
    return w.bytes().slice();
  }
  const s = c.sys;
  const body = new XdrWriter(64);
  body.uint(s.stamp, 'AUTH_SYS stamp');
  body.string(s.machineName, 255, 'AUTH_SYS machine name');
  body.uint(s.uid, 'AUTH_SYS uid');
  body.uint(s.gid, 'AUTH_SYS gid');
  body.arrayLength(s.gids, 16, 'AUTH_SYS gids');
  for (const g of s.gids) body.uint(g, 'AUTH_SYS gid');
  w.word(AuthFlavor.AUTH_SYS);
  w.varOpaque(body.bytes(), MAX_AUTH_BYTES, 'AUTH_SYS credential');
  return w.bytes().slice();
}

/** Parses an AUTH_SYS credential body; null when it is malformed. */
export function parseAuthSys(body: Uint8Array): AuthSys | null {
  const r = new XdrReader().reset(body);
  const stamp = r.uint();
  const machineName = r.string(255, 'machine name');
  const uid = r.uint();
  const gid = r.uint();
  const n = r.arrayLength(16, 4, 'gids');
  const gids: number[] = [];
  for (let i = 0; i < n; i++) gids.push(r.uint());
  if (r.error !== null || r.pos !== r.end) return null;
  return { stamp, machineName, uid, gid, gids };
}

/** A parsed call header (reused from call to call). */
export class CallHeader {
  xid = 0;
  rpcvers = 0;
  prog = 0;
  vers = 0;
  proc = 0;
  credFlavor = 0;
  credStart = 0;
  credEnd = 0;
  verfFlavor = 0;
  /** Offset of the arguments in the message. */
  argsOffset = 0;
}

/**
 * Reads a call header after xid and msg_type (which the caller already read to tell calls from
 * replies). Returns null, or what is wrong.
 */
export function parseCallBody(r: XdrReader, h: CallHeader): string | null {
  h.rpcvers = r.uint('rpcvers');
  h.prog = r.uint('prog');
  h.vers = r.uint('vers');
  h.proc = r.uint('proc');
  h.credFlavor = r.uint('credential flavor');
  const credLen = r.uint('credential length');
  if (r.error !== null) return r.error;
  if (credLen > MAX_AUTH_BYTES) return `credential of ${credLen} bytes exceeds ${MAX_AUTH_BYTES}`;
  h.credStart = r.pos;
  h.credEnd = r.pos + credLen;
  r.pos += credLen + ((4 - (credLen & 3)) & 3);
  if (r.pos > r.end) return 'credential is truncated';
  h.verfFlavor = r.uint('verifier flavor');
  const verfLen = r.uint('verifier length');
  if (r.error !== null) return r.error;
  if (verfLen > MAX_AUTH_BYTES) return `verifier of ${verfLen} bytes exceeds ${MAX_AUTH_BYTES}`;
  r.pos += verfLen + ((4 - (verfLen & 3)) & 3);
  if (r.pos > r.end) return 'verifier is truncated';
  h.argsOffset = r.pos;
  return null;
}

/** Writes a call header with an AUTH_NONE verifier; the arguments follow. */
export function writeCallHeader(w: XdrWriter, xid: number, prog: number, vers: number, proc: number, credential: Uint8Array): void {
  w.word(xid);
  w.word(MsgType.CALL);
  w.word(RPC_VERSION);
  w.word(prog);
  w.word(vers);
  w.word(proc);
  w.ensure(credential.length + 8);
  w.buf.set(credential, w.pos);
  w.pos += credential.length;
  w.word(AuthFlavor.AUTH_NONE);
  w.word(0);
}

/** Writes an accepted reply header with an AUTH_NONE verifier; for SUCCESS the results follow. */
export function writeAcceptedReply(w: XdrWriter, xid: number, acceptStat: number): void {
  w.word(xid);
  w.word(MsgType.REPLY);
  w.word(ReplyStat.MSG_ACCEPTED);
  w.word(AuthFlavor.AUTH_NONE);
  w.word(0);
  w.word(acceptStat);
}

/** Writes a PROG_MISMATCH reply with the lowest and highest versions served. */
export function writeProgMismatch(w: XdrWriter, xid: number, low: number, high: number): void {
  writeAcceptedReply(w, xid, AcceptStat.PROG_MISMATCH);
  w.word(low);
  w.word(high);
}

/** Writes an RPC_MISMATCH denial (this server speaks RPC version 2 only). */
export function writeRpcMismatch(w: XdrWriter, xid: number): void {
  w.word(xid);
  w.word(MsgType.REPLY);
  w.word(ReplyStat.MSG_DENIED);
  w.word(RejectStat.RPC_MISMATCH);
  w.word(RPC_VERSION);
  w.word(RPC_VERSION);
}

/** Writes an AUTH_ERROR denial. */
export function writeAuthError(w: XdrWriter, xid: number, stat: number): void {
  w.word(xid);
  w.word(MsgType.REPLY);
  w.word(ReplyStat.MSG_DENIED);
  w.word(RejectStat.AUTH_ERROR);
  w.word(stat);
}

/** A parsed reply header (reused). */
export class ReplyHeader {
  xid = 0;
  replyStat = 0;
  /** accept_stat when accepted. */
  acceptStat = 0;
  /** reject_stat when denied. */
  rejectStat = 0;
  /** Version range of PROG_MISMATCH or RPC_MISMATCH. */
  low = 0;
  high = 0;
  /** auth_stat of AUTH_ERROR. */
  authStat = 0;
  /** Offset of the results of a SUCCESS reply. */
  resultsOffset = 0;
}

/** Reads a reply after xid and msg_type. Returns null, or what is wrong. */
export function parseReplyBody(r: XdrReader, h: ReplyHeader): string | null {
  h.replyStat = r.uint('reply_stat');
  if (r.error !== null) return r.error;
  if (h.replyStat === ReplyStat.MSG_ACCEPTED) {
    r.uint('verifier flavor');
    const verfLen = r.uint('verifier length');
    if (r.error !== null) return r.error;
    if (verfLen > MAX_AUTH_BYTES) return `verifier of ${verfLen} bytes exceeds ${MAX_AUTH_BYTES}`;
    r.pos += verfLen + ((4 - (verfLen & 3)) & 3);
    if (r.pos > r.end) return 'verifier is truncated';
    h.acceptStat = r.uint('accept_stat');
    if (h.acceptStat === AcceptStat.PROG_MISMATCH) {
      h.low = r.uint('low version');
      h.high = r.uint('high version');
    }
    if (r.error !== null) return r.error;
    if (h.acceptStat > AcceptStat.SYSTEM_ERR) return `accept_stat ${h.acceptStat} is not defined`;
    h.resultsOffset = r.pos;
    return null;
  }
  if (h.replyStat === ReplyStat.MSG_DENIED) {
    h.rejectStat = r.uint('reject_stat');
    if (h.rejectStat === RejectStat.RPC_MISMATCH) {
      h.low = r.uint('low version');
      h.high = r.uint('high version');
    } else if (h.rejectStat === RejectStat.AUTH_ERROR) {
      h.authStat = r.uint('auth_stat');
    } else if (r.error === null) {
      return `reject_stat ${h.rejectStat} is not defined`;
    }
    return r.error;
  }
  return `reply_stat ${h.replyStat} is not defined`;
}
