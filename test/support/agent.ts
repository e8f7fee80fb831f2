/**
 * The suite's scripted browser and login: @codegrant/testing's login driver, the one users get
 * (`createBrowser`, `signIn`), under the names the suite has always used.
 */
export { API, createBrowser as createAgent, formOf, HTML, signIn as login, type Browser as Agent, type Hop } from '@codegrant/testing'
