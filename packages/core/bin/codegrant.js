#!/usr/bin/env node
// A committed launcher (the bin exists before `pnpm build` makes dist/).
import('../dist/cli.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli.js')) {
    console.error('codegrant is not built yet: run `pnpm build` first.')
    process.exit(1)
  }
  throw error
})
