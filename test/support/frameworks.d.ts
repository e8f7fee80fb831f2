// The suite installs each framework twice under aliases (express4/express5, koa2/koa3);
// they share the current major's type declarations.
declare module 'express4' {
  import express from 'express'
  export default express
}
declare module 'express5' {
  import express from 'express'
  export default express
}
declare module 'koa2' {
  import Koa from 'koa'
  export default Koa
}
declare module 'koa3' {
  import Koa from 'koa'
  export default Koa
}
