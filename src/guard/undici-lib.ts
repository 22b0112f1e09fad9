// undici's Pool, loaded from its own file when the guard sidecar first makes one: an application that only uses the verifier or the middleware from `moat/guard` never loads undici; undici's index would also load fetch, WebSocket, mocks and caches, and its cookies module reaches globalThis.Headers, which loads Node's bundled undici too (+9–15 MB idle RSS).
import { createRequire } from "node:module";
import type * as Undici from "undici";

// No package "exports" in undici: its lib files are required by path, and share their module instances with its index.
const require = createRequire(import.meta.url);

let loaded: typeof Undici.Pool | undefined;

function loadPool(): typeof Undici.Pool {
  if (loaded) return loaded;
  // What undici's index does to every dispatcher: request(), stream(), pipeline(), upgrade() and connect() as methods.
  Object.assign(require("undici/lib/dispatcher/dispatcher.js").prototype, require("undici/lib/api/index.js"));
  loaded = require("undici/lib/dispatcher/pool.js") as typeof Undici.Pool;
  return loaded;
}

// A function target, so that `new` reaches the trap; its own properties are never read.
export const Pool: typeof Undici.Pool = new Proxy(function () {} as unknown as typeof Undici.Pool, {
  construct: (_target, args) => Reflect.construct(loadPool(), args),
  get: (_target, key) => Reflect.get(loadPool(), key),
});
export type Pool = Undici.Pool;
