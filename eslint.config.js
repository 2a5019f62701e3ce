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
    files: ['src/ui/**', 'src/state/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: ['@tensorflow/*', '**/model/*', '**/diffusion/*', '!**/model/metadata', '!**/model/metadata.ts'] },
      ],
    },
  },
);
