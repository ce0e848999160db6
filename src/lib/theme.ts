// Light or dark: the system's preference unless the toggle chose one, remembered per browser.
// src/app.html applies the stored choice before the first paint.

export type Theme = 'light' | 'dark';
const KEY = 'meshhook-theme';

/** The theme in effect: the stored choice, else the system preference. */
export function currentTheme(): Theme {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === 'light' || chosen === 'dark') return chosen;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

/** Applies a theme and remembers it. */
export function setTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem(KEY, theme);
  } catch {
    // private mode: the choice lasts for this page only
  }
}
