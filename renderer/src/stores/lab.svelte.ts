// The lab as the UI sees it: the connection, the library, the knobs and presets, the run history
// and the LAN peers. A small class with private $state fields and getters.

import type { KnobInfo, LabApi, LibraryItem, PeerInfo, PresetInfo, RunInfo, SavedSpecInfo } from '../../../experiments/api/contract.js';
import type { ConnectionStatus, LabConnection } from '../lib/api.js';

/** Lists from the lab and the connection to it. */
export class LabStore {
  readonly api: LabApi;
  #connection = $state.raw<ConnectionStatus>({ state: 'connecting', error: null });
  #library = $state.raw<LibraryItem[]>([]);
  #specs = $state.raw<SavedSpecInfo[]>([]);
  #knobs = $state.raw<KnobInfo[]>([]);
  #presets = $state.raw<PresetInfo[]>([]);
  #runs = $state.raw<RunInfo[]>([]);
  #runsError = $state<string | null>(null);
  #peers = $state.raw<PeerInfo[]>([]);
  #peersError = $state<string | null>(null);
  #loadError = $state<string | null>(null);
  #loaded = $state(false);
  #wasLost = false;

  constructor(readonly connection: LabConnection) {
    this.api = connection.api;
    connection.onStatus((s) => {
      const reopened = s.state === 'open' && (this.#wasLost || !this.#loaded);
      if (s.state === 'lost') this.#wasLost = true;
      this.#connection = s;
      if (reopened) {
        this.#wasLost = false;
        void this.refresh();
      }
    });
  }

  get status(): ConnectionStatus {
    return this.#connection;
  }
  /** The specs the user saved, newest first. */
  get specs(): SavedSpecInfo[] {
    return this.#specs;
  }
  get library(): LibraryItem[] {
    return this.#library;
  }
  get knobs(): KnobInfo[] {
    return this.#knobs;
  }
  get presets(): PresetInfo[] {
    return this.#presets;
  }
  get runs(): RunInfo[] {
    return this.#runs;
  }
  get runsError(): string | null {
    return this.#runsError;
  }
  get peers(): PeerInfo[] {
    return this.#peers;
  }
  get peersError(): string | null {
    return this.#peersError;
  }
  /** Why the lists could not be loaded. */
  get loadError(): string | null {
    return this.#loadError;
  }
  get loaded(): boolean {
    return this.#loaded;
  }

  /** Loads every list. */
  async refresh(): Promise<void> {
    const [lib, knobs, presets] = await Promise.all([this.api.listLibrary({}), this.api.listKnobs({}), this.api.listPresets({})]);
    const errors: string[] = [];
    if (lib.ok) this.#library = lib.value;
    else errors.push(lib.error);
    if (knobs.ok) this.#knobs = knobs.value;
    else errors.push(knobs.error);
    // Presets are optional: an older host without them still works.
    if (presets.ok) this.#presets = presets.value;
    this.#loadError = errors.length > 0 ? errors.join('; ') : null;
    if (errors.length === 0) this.#loaded = true;
    await Promise.all([this.refreshRuns(), this.refreshPeers(), this.refreshSpecs()]);
  }

  /** Reloads the list of saved specs (an older host without listSpecs leaves it empty). */
  async refreshSpecs(): Promise<void> {
    const r = await this.api.listSpecs({});
    if (r.ok) this.#specs = r.value;
  }

  /** Reloads the run history. */
  async refreshRuns(): Promise<void> {
    const r = await this.api.listRuns({});
    if (r.ok) {
      this.#runs = r.value;
      this.#runsError = null;
    } else this.#runsError = r.error;
  }

  /** Reloads the LAN peers heard. */
  async refreshPeers(): Promise<void> {
    const r = await this.api.listPeers({});
    if (r.ok) {
      this.#peers = r.value;
      this.#peersError = null;
    } else {
      this.#peers = [];
      this.#peersError = r.error;
    }
  }

  /** Polls the peers every `ms` while connected; returns the stop function. */
  pollPeers(ms = 3000): () => void {
    const timer = setInterval(() => {
      if (this.#connection.state === 'open') void this.refreshPeers();
    }, ms);
    return () => clearInterval(timer);
  }
}
