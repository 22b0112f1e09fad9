// @peculiar/x509, loaded after the Reflect shim it needs; every pki file imports x509 from here, never directly.
import "./reflect-metadata-shim.ts";

export * as x509 from "@peculiar/x509";
