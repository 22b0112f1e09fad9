// undici's dispatcher classes, loaded from their own files at first use: a primary (which never proxies) does not load them at all; undici's index would also load fetch, WebSocket, mocks and caches, and its cookies module reaches globalThis.Headers, which loads Node's bundled undici too (+9–15 MB idle RSS).
import { createRequire } from "node:module";
import type * as Undici from "undici";

// No package "exports" in undici: its lib files are required by path, and share their module instances with its index.
const require = createRequire(import.meta.url);

interface UndiciParts {
  Client: typeof Undici.Client;
  Pool: typeof Undici.Pool;
  buildConnector: typeof Undici.buildConnector;
  errors: typeof Undici.errors;
  /** A raw field name in lower case: a known one from undici's tree of them, as undici's own parser does. */
  bufferToLowerCasedHeaderName: (name: Buffer) => string;
}

let parts: UndiciParts | undefined;

/**
 * Loads undici's parts now rather than at the first miss: an edge calls it as it starts serving, so no viewer
 * request waits for module loading. Idempotent.
 * @example
 * loadUndici();
 */
export function loadUndici(): UndiciParts {
  if (parts) return parts;
  // What undici's index does to every dispatcher: request(), stream(), pipeline(), upgrade() and connect() as methods.
  Object.assign(require("undici/lib/dispatcher/dispatcher.js").prototype, require("undici/lib/api/index.js"));
  parts = {
    Client: require("undici/lib/dispatcher/client.js"),
    Pool: require("undici/lib/dispatcher/pool.js"),
    buildConnector: require("undici/lib/core/connect.js"),
    errors: require("undici/lib/core/errors.js"),
    bufferToLowerCasedHeaderName: require("undici/lib/core/util.js").bufferToLowerCasedHeaderName,
  };
  return parts;
}

/** A stand-in for one of undici's classes or namespaces that loads undici when first constructed, called or read. */
function lazy<T extends object>(pick: (loaded: UndiciParts) => T): T {
  // A function target, so that `new` and calls reach the trap; its own properties are never read.
  const target = function () {} as unknown as T;
  return new Proxy(target, {
    construct: (_target, args) => Reflect.construct(pick(loadUndici()) as unknown as new (...args: unknown[]) => object, args),
    apply: (_target, thisArg, args) => Reflect.apply(pick(loadUndici()) as unknown as (...args: unknown[]) => unknown, thisArg, args),
    get: (_target, key) => Reflect.get(pick(loadUndici()), key),
  });
}

export const Client: typeof Undici.Client = lazy((undici) => undici.Client);
export type Client = Undici.Client;
export const Pool: typeof Undici.Pool = lazy((undici) => undici.Pool);
export type Pool = Undici.Pool;
export const buildConnector: typeof Undici.buildConnector = lazy((undici) => undici.buildConnector);
export type Connector = Undici.buildConnector.connector;
export type ConnectorCallback = Undici.buildConnector.Callback;
export const errors: typeof Undici.errors = lazy((undici) => undici.errors);

let lowerCased: ((name: Buffer) => string) | undefined;

/**
 * A response field's name as undici's parser names it: lower case, a known name as a constant string.
 * @example
 * lowerCaseHeaderName(Buffer.from("Content-Type")); // "content-type"
 */
export function lowerCaseHeaderName(name: Buffer): string {
  return (lowerCased ??= loadUndici().bufferToLowerCasedHeaderName)(name);
}
