// @ts-check
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '.data/**',
      '.tools/**',
      'test-artifacts/**',
      'dist/**',
      'bench-results/**',
      'sign.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test collects these itself; awaiting them in a test file is not how the runner is used.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries,
    // and activities only as types.
    files: ['workflows/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflow code must not use Node built-ins.' },
            // Every built-in, not a hand-kept few: `events`, `buffer` or `timers` are as out of place.
            { group: builtinModules, message: 'Workflow code must not use Node built-ins.' },
            {
              group: [
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                '@temporalio/testing',
              ],
              message: 'Workflow code may only use @temporalio/workflow and @temporalio/common.',
            },
            {
              group: ['express', 'pino', 'graphql', 'graphql-request', 'zod'],
              message: 'Not in workflow code.',
            },
            {
              group: ['../activities', '../activities/*', '../lib/*', '../dev/*', '../api/*', '../worker/*'],
              allowTypeImports: true,
              message: 'Workflows import activities as types only.',
            },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'setTimeout', 'setInterval', 'require', 'Buffer'],
      // The worker evaluates these modules once and every saga shares them (`preloadModules` in
      // lib/workflow-bundle.ts), so state at module level would leak from one saga into another.
      'no-restricted-syntax': [
        'error',
        ...[
          'Program > VariableDeclaration',
          'Program > ExportNamedDeclaration > VariableDeclaration',
        ].flatMap((declaration) => [
          {
            selector: `${declaration}[kind!='const']`,
            message:
              'Sagas share workflow modules: keep state inside the workflow function, not in a module-level let or var.',
          },
          {
            selector: `${declaration} > VariableDeclarator > NewExpression[callee.name=/^(Map|Set|WeakMap|WeakSet)$/]`,
            message:
              'Sagas share workflow modules: keep collections inside the workflow function, not at module level.',
          },
        ]),
      ],
    },
  },
);
