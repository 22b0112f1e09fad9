// @peculiar/x509, loaded on first use: certificate building, CRLs and name formatting are rare paths (issuing, rotation, imports, trust stores), and the package with its DI container (tsyringe) and ASN.1 schemas costs an edge ~8 MB it does not need to serve.
import { createRequire } from "node:module";
import type * as X509 from "@peculiar/x509";

export type { X509 };

const require = createRequire(import.meta.url);
let loaded: typeof X509 | undefined;

function load(): typeof X509 {
  if (loaded) return loaded;
  // tsyringe (the package's DI container) needs the Reflect metadata polyfill at import time.
  require("reflect-metadata");
  loaded = require("@peculiar/x509") as typeof X509;
  return loaded;
}

/** The package's namespace; the first property read loads it (types: `X509.Name`, from this file). */
export const x509: typeof X509 = new Proxy({} as typeof X509, { get: (_target, name) => Reflect.get(load(), name) });
