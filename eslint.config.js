import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'data/', 'coverage/', 'src/spruce/openapi-types.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setImmediate: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', Buffer: 'readonly',
        URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly',
        document: 'readonly', window: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
      // A code goes into logs, jobs and reports through errorCode() (src/errors.ts), so it is
      // always one of the catalog's; reading another library's `code` by hand bypasses that.
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "LogicalExpression[operator='??'] > MemberExpression.left[property.name='code'] > TSAsExpression.object > TSTypeLiteral.typeAnnotation",
          message: "Use errorCode(error) from src/errors.ts instead of (error as { code?: string }).code ?? '…'.",
        },
        {
          selector:
            "LogicalExpression[operator='??'] > ChainExpression.left > MemberExpression[property.name='code'] > TSAsExpression.object > TSTypeLiteral.typeAnnotation",
          message: "Use errorCode(error) from src/errors.ts instead of (error as { code?: string })?.code ?? '…'.",
        },
      ],
    },
  },
);
