// Light and dark themes: follow the system (prefers-color-scheme) unless the user picks one; the
// choice is kept in localStorage and set as data-theme on <html> for the CSS. In the desktop app
// the page owns the choice: the menu's "Toggle Dark Mode" asks it to toggle, and every choice is
// passed to the window (setTheme) so that its menus and dialogs match the page.

import type { DesktopApi } from '../../../electron/channels.js';

/** The user's choice. */
export type ThemeChoice = 'system' | 'light' | 'dark';

const KEY = 'packetlab.theme';

/** The theme in force. */
export class ThemeStore {
  #choice = $state<ThemeChoice>('system');
  #systemDark = $state(false);

  constructor(
    private readonly win: Window | null = typeof window === 'undefined' ? null : window,
    private readonly desktop: Pick<DesktopApi, 'setTheme'> | null = win?.packetlabDesktop ?? null,
  ) {
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
    this.tellDesktop();
  }

  get choice(): ThemeChoice {
    return this.#choice;
  }
  set choice(c: ThemeChoice) {
    this.#choice = c;
    this.win?.localStorage?.setItem(KEY, c);
    this.apply();
    this.tellDesktop();
  }
  /** Switches to the other of light and dark (from whichever is shown now). */
  toggle(): void {
    this.choice = this.resolved === 'dark' ? 'light' : 'dark';
  }
  /** The theme shown. */
  get resolved(): 'light' | 'dark' {
    return this.#choice === 'system' ? (this.#systemDark ? 'dark' : 'light') : this.#choice;
  }

  private tellDesktop(): void {
    // A refusal changes nothing the user sees in the page; the window's chrome keeps its theme.
    void this.desktop?.setTheme(this.#choice).catch(() => undefined);
  }

  private apply(): void {
    const root = this.win?.document.documentElement;
    if (root !== undefined) root.dataset.theme = this.resolved;
  }
}
