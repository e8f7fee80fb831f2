export { listenNode, runExample, type StartedApp } from './run.js'
export { inspector, fingerprint, type Inspector, type InspectorView, type KitAnswer } from './inspector/index.js'
export { userinfo, type UpstreamAnswer } from './userinfo.js'
export { errorAnswer } from './errors.js'
