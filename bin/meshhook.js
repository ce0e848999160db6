#!/usr/bin/env node
// MeshHook runs its TypeScript sources directly on Node.js 24 (type stripping): no build step.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  console.error(
    `MeshHook needs Node.js 24 or newer; this is ${process.version}. Run it through npm (npm start), which uses the Node.js 24 installed with the project.`,
  );
  process.exit(1);
}
// Sentry first (when SENTRY_DSN is set), so it is in place before the modules it watches load;
// src/instrument.ts says why this import rather than `node --import`.
await import('../src/instrument.ts');
await import('../src/cli.ts');
