// undici's dispatcher classes, loaded from their own files: undici's index also loads fetch, WebSocket, mocks and caches, and its cookies module reaches globalThis.Headers, which loads Node's bundled undici too (+9–15 MB idle RSS).
import { createRequire } from "node:module";
import type * as Undici from "undici";

// No package "exports" in undici: its lib files are required by path, and share their module instances with its index.
const require = createRequire(import.meta.url);

// What undici's index does to every dispatcher: request(), stream(), pipeline(), upgrade() and connect() as methods.
Object.assign(require("undici/lib/dispatcher/dispatcher.js").prototype, require("undici/lib/api/index.js"));

export const Client: typeof Undici.Client = require("undici/lib/dispatcher/client.js");
export type Client = Undici.Client;
export const Pool: typeof Undici.Pool = require("undici/lib/dispatcher/pool.js");
export type Pool = Undici.Pool;
export const buildConnector: typeof Undici.buildConnector = require("undici/lib/core/connect.js");
export type Connector = Undici.buildConnector.connector;
export type ConnectorCallback = Undici.buildConnector.Callback;
export const errors: typeof Undici.errors = require("undici/lib/core/errors.js");
