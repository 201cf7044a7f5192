// The spec editor's state: the JSON text, validation as the user types (debounced validateSpec),
// knob edits from the parameter panel, and saving to the user's specs.

import type { LabApi, LibraryItem, SpecProblem } from '../../../experiments/api/contract.js';
import { parseSpecJson, setSpecField, setSpecKnob, type KnobValue, type SpecObject } from '../lib/knobs.js';

/** What validateSpec said about the text. */
export interface Validation {
  valid: boolean;
  problems: SpecProblem[];
  points: number;
  /** The axis values of each sweep point (the first thousand). */
  pointAxes?: Record<string, number | string | boolean>[];
}

/** The spec being edited. */
export class SpecStore {
  #text = $state('');
  #source = $state<string | null>(null);
  #validation = $state.raw<Validation | null>(null);
  #validating = $state(false);
  #message = $state<{ ok: boolean; text: string } | null>(null);
  #parsed = $derived(parseSpecJson(this.#text));
  #timer: ReturnType<typeof setTimeout> | null = null;
  #seq = 0;

  constructor(
    private readonly api: LabApi,
    private readonly debounceMs = 300,
    /** Told after each save (the list of saved specs refreshes). */
    private readonly onSaved: () => void = () => {},
  ) {}

  get text(): string {
    return this.#text;
  }
  /** Sets the text as typed; validation follows after a pause. */
  set text(v: string) {
    this.#text = v;
    this.#message = null;
    this.scheduleValidate();
  }
  /** The library experiment or saved spec the text came from. */
  get source(): string | null {
    return this.#source;
  }
  get validation(): Validation | null {
    return this.#validation;
  }
  get validating(): boolean {
    return this.#validating;
  }
  /** The spec object, or null when the text is not JSON. */
  get spec(): SpecObject | null {
    return this.#parsed.spec;
  }
  get jsonError(): string | null {
    return this.#parsed.error;
  }
  /** The spec's name field. */
  get name(): string {
    const n = this.#parsed.spec?.name;
    return typeof n === 'string' ? n : '';
  }
  /** The last save's outcome. */
  get message(): { ok: boolean; text: string } | null {
    return this.#message;
  }

  /** Opens a spec the user saved; resolves with the error, or null. */
  async open(name: string): Promise<string | null> {
    const r = await this.api.loadSpec({ name });
    if (!r.ok) {
      this.#message = { ok: false, text: r.error };
      return r.error;
    }
    this.load(r.value);
    return null;
  }

  /** Loads a library experiment (or a saved spec). */
  load(item: Pick<LibraryItem, 'name' | 'text'>): void {
    this.#source = item.name;
    this.#text = item.text;
    this.#message = null;
    void this.validateNow();
  }

  /** Sets one knob in the spec's JSON; returns the error, or null. */
  setKnob(path: string, value: KnobValue): string | null {
    return this.edit((text) => setSpecKnob(text, path, value));
  }

  /** Sets (or with undefined removes) a top-level field such as `preset`; returns the error, or null. */
  setField(field: string, value: unknown): string | null {
    return this.edit((text) => setSpecField(text, field, value));
  }

  /** Replaces the text with `change(text)` and validates soon; returns change's error, or null. */
  private edit(change: (text: string) => string): string | null {
    try {
      this.#text = change(this.#text);
    } catch (e) {
      return (e as Error).message;
    }
    this.scheduleValidate();
    return null;
  }

  private scheduleValidate(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.validateNow();
    }, this.debounceMs);
  }

  /** Validates the current text at once. */
  async validateNow(): Promise<Validation | null> {
    const text = this.#text;
    const seq = ++this.#seq;
    if (text.trim().length < 2) {
      this.#validation = { valid: false, problems: [{ path: '$', message: 'the spec is empty' }], points: 0 };
      return this.#validation;
    }
    this.#validating = true;
    const r = await this.api.validateSpec({ text });
    // A later edit's validation wins over this one.
    if (seq !== this.#seq) return this.#validation;
    this.#validating = false;
    this.#validation = r.ok ? r.value : { valid: false, problems: [{ path: '$', message: r.error }], points: 0 };
    return this.#validation;
  }

  /** Saves the text to the user's specs under `name`. */
  async save(name: string): Promise<boolean> {
    const r = await this.api.saveSpec({ name, text: this.#text });
    this.#message = r.ok ? { ok: true, text: `saved to ${r.value.path}` } : { ok: false, text: r.error };
    if (r.ok) {
      this.#source = name;
      this.onSaved();
    }
    return r.ok;
  }
}
