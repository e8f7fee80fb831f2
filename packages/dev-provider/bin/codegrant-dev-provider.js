#!/usr/bin/env node
// A committed launcher, so that `pnpm install` on a fresh clone can link the bin before
// `pnpm build` has made dist/ ("WARN Failed to create bin" otherwise).
import('../dist/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    console.error('codegrant-dev-provider is not built yet: run `pnpm build` first.')
    process.exit(1)
  }
  throw error
})
