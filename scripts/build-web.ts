// Builds the web app (vite build into build/) when the build is missing or older than its
// sources, so `npm start` always serves the pages of the checkout; an up-to-date build is
// kept, which also lets a deployment build once and start without the build tools.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// The pages, their hooks, and what they import from the rest of src (the scrubber's rules in
// src/core, the hooks' link to the error capture).
const SOURCES = [
  'src/routes',
  'src/lib',
  'src/app.html',
  'src/hooks.client.ts',
  'src/hooks.server.ts',
  'src/core',
  'src/engine/web-app-errors.ts',
  'vite.config.ts',
  'package-lock.json',
];

/** Newest modification time under a file or directory, 0 when it does not exist. */
function newest(path: string): number {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), 0);
}

const built = newest(join(root, 'build/handler.js'));
const sources = Math.max(...SOURCES.map((source) => newest(join(root, source))));
if (built > 0 && built >= sources) process.exit(0);

console.error(built > 0 ? 'web app sources changed: rebuilding' : 'building the web app');
const result = spawnSync('vite', ['build', '--logLevel', 'warn'], {
  cwd: root,
  stdio: 'inherit',
  shell: process.platform === 'win32',
});
if (result.error) {
  console.error(`could not run vite build: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
