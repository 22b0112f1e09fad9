// @peculiar/x509, loaded after the Reflect metadata polyfill its DI container (tsyringe) needs at import time; every pki file imports x509 from here.
import "reflect-metadata";

export * as x509 from "@peculiar/x509";
