// @peculiar/x509 for enrolment (CSRs), loaded after the Reflect metadata polyfill it needs at import time.
import "reflect-metadata";

export * as x509 from "@peculiar/x509";
