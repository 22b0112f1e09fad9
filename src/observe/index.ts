// Observability: structured logs now; metrics and the audit chain come later.
export { createAccessLog, jsonString } from "./access-log.ts";
export type { AccessLog } from "./access-log.ts";
export { createLogger } from "./logger.ts";
export type { Logger, LoggerOptions } from "./logger.ts";
export { RequestTrace, newTraceId, newTraceparent, validTraceId } from "./trace-context.ts";
export { ACCESS_FILE_MODE, accessFileBase, openAccessFile } from "./access-file.ts";
export type { AccessFile, AccessFileSettings } from "./access-file.ts";
