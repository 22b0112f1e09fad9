// Observability: structured logs now; metrics and the audit chain come later.
export { createAccessLogger, createLogger } from "./logger.ts";
export type { Logger, LoggerOptions } from "./logger.ts";
