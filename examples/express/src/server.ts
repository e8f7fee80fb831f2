import { listenNode, runExample } from '@codegrant/example-kit'
import { createApp } from './app.js'

await runExample('express', (options, port) => listenNode(createApp(options), port))
