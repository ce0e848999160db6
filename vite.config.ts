import adapter from '@sveltejs/adapter-node';
import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

// The web app: pages under src/routes, built by adapter-node into build/, whose handler
// src/http/web-app.ts mounts on the API's own HTTP server.
export default defineConfig({
  plugins: [sveltekit({ adapter: adapter() })],
});
