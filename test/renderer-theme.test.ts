// @vitest-environment happy-dom
// The page's theme (renderer/src/stores/theme.svelte.ts): the user's choice or the system's, kept
// in localStorage and set on <html>; the desktop menu's "Toggle Dark Mode" toggles it, and every
// choice is passed to the desktop window so that its own parts match.

import { beforeEach, describe, expect, it } from 'vitest';
import { ThemeStore } from '../renderer/src/stores/theme.svelte.js';

type ThemeSource = 'system' | 'light' | 'dark';

function desktop(): { told: ThemeSource[]; setTheme: (t: ThemeSource) => Promise<{ ok: true; value: null }> } {
  const told: ThemeSource[] = [];
  return { told, setTheme: async (t) => (told.push(t), { ok: true, value: null }) };
}

beforeEach(() => window.localStorage.clear());

describe('the theme', () => {
  it('toggles from what is shown, and sets <html data-theme> and the saved choice', () => {
    const d = desktop();
    const theme = new ThemeStore(window, d);
    expect(theme.choice).toBe('system');
    const shown = theme.resolved;
    theme.toggle();
    const other = shown === 'dark' ? 'light' : 'dark';
    expect(theme.choice).toBe(other);
    expect(document.documentElement.dataset.theme).toBe(other);
    expect(window.localStorage.getItem('packetlab.theme')).toBe(other);
    theme.toggle();
    expect(theme.resolved).toBe(shown);
    expect(d.told).toEqual(['system', other, shown]);
  });

  it("tells the desktop window the saved choice at start, and nothing breaks when it refuses", async () => {
    window.localStorage.setItem('packetlab.theme', 'dark');
    const d = desktop();
    expect(new ThemeStore(window, d).resolved).toBe('dark');
    expect(d.told).toEqual(['dark']);
    const refusing = new ThemeStore(window, { setTheme: () => Promise.reject(new Error('refused')) });
    refusing.choice = 'light';
    await new Promise((r) => setTimeout(r, 0));
    expect(document.documentElement.dataset.theme).toBe('light');
  });

  it('works in a browser, without a desktop window', () => {
    const theme = new ThemeStore(window, null);
    theme.choice = 'dark';
    expect(document.documentElement.dataset.theme).toBe('dark');
  });
});
