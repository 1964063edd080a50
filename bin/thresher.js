#!/usr/bin/env node
// Entry for `thresher` (npm bin): the CLI is TypeScript compiled to dist/ by `npm run build`.
await import('../dist/cli/thresher.js');
