// Light and dark themes: follow the system (prefers-color-scheme) unless the user picks one; the
// choice is kept in localStorage and set as data-theme on <html> for the CSS.

/** The user's choice. */
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'packetlab.theme';

/** The theme in force. */
export class ThemeStore {
  #choice = $state<ThemeChoice>('system');
  #systemDark = $state(false);

  constructor(private readonly win: Window | null = typeof window === 'undefined' ? null : window) {
    const saved = this.win?.localStorage?.getItem(KEY);
    if (saved === 'light' || saved === 'dark' || saved === 'system') this.#choice = saved;
    const mq = this.win?.matchMedia?.('(prefers-color-scheme: dark)');
    if (mq !== undefined) {
      this.#systemDark = mq.matches;
      mq.addEventListener?.('change', (e) => {
        this.#systemDark = e.matches;
        this.apply();
      });
    }
    this.apply();
  }

  get choice(): ThemeChoice {
    return this.#choice;
  }
  set choice(c: ThemeChoice) {
    this.#choice = c;
    this.win?.localStorage?.setItem(KEY, c);
    this.apply();
  }
  /** The theme shown. */
  get resolved(): 'light' | 'dark' {
    return this.#choice === 'system' ? (this.#systemDark ? 'dark' : 'light') : this.#choice;
  }

  private apply(): void {
    const root = this.win?.document.documentElement;
    if (root !== undefined) root.dataset.theme = this.resolved;
  }
}
