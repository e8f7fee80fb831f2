import { listenNode, runExample } from '@codegrant/example-kit'
import { createApp } from './app.js'

await runExample('koa', (options, port) => listenNode(createApp(options).callback(), port))
