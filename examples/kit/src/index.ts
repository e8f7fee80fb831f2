export { listenNode, runExample, type StartedApp } from './run.js'
export { homePage } from './page.js'
export { userinfo, type UpstreamAnswer } from './userinfo.js'
export { errorAnswer } from './errors.js'
