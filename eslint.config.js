import js from '@eslint/js';
import globals from 'globals';
import reactHooks from 'eslint-plugin-react-hooks';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist',
      'dist-e2e-*',
      'test-results-*',
      'playwright-report-*',
      'node_modules',
      'public',
      'test-results',
      'playwright-report',
      'train',
      'bench-results',
    ],
  },
  {
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    files: ['**/*.{ts,tsx}'],
    languageOptions: { ecmaVersion: 2022, globals: { ...globals.browser, ...globals.node, ...globals.worker } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Layering: numerics and engine never import React; UI and state never import tfjs.
      'no-restricted-imports': 'off',
    },
  },
  {
    files: ['src/model/**', 'src/diffusion/**', 'src/engine/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: ['react', 'react-dom', 'zustand', '**/ui/**', '**/state/**'] }],
    },
  },
  {
    // Pure latent maths on plain numbers: no framework, no GPU, no app layer; only the seeded random stream, slerp,
    // the metadata types and the engine's protocol types below it.
    files: ['src/latent/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            'react',
            'react-dom',
            'zustand',
            '@tensorflow/*',
            '**/ui/**',
            '**/state/**',
            '**/app/**',
            '**/engine/*',
            '!**/engine/protocol',
            '**/model/*',
            '!**/model/metadata',
            '**/diffusion/*',
            '!**/diffusion/random',
            '!**/diffusion/slerp',
            '!**/diffusion/sigmoid',
          ],
        },
      ],
    },
  },
  {
    // Browser helpers below the store (storage, images, links, wording): the store imports them, never the reverse,
    // so src/app and src/state cannot form a cycle again.
    files: ['src/app/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['react', 'react-dom', 'zustand', '@tensorflow/*', '**/ui/**', '**/state/**'] },
      ],
    },
  },
  {
    files: ['src/ui/**', 'src/state/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            '@tensorflow/*',
            '**/model/*',
            '**/diffusion/*',
            '!**/model/metadata',
            '!**/model/metadata.ts',
            // The shared logistic function (α -> ᾱ), plain float64 with no imports.
            '!**/diffusion/sigmoid',
          ],
        },
      ],
    },
  },
);
