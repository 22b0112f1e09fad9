// Reads a config file (YAML, or JSON for .json), validates it and checks that every file it names can be read.

import { readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { ConfigInvalidError, ConfigUnreadableError } from "../errors.ts";
import { checkFiles, referencedFiles } from "./files.ts";
import { relativePathIssues } from "./document-paths.ts";
import { validateConfig } from "./parse.ts";
import type { ParseConfigOptions } from "./parse.ts";
import type { MoatConfig } from "./types.ts";

export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<MoatConfig> {
  const source = resolve(file);
  const document = await readConfigDocument(source);
  return loadConfigDocument(document, { source, baseDir: dirname(source), env });
}

/** A config file's document as parsed, not validated yet (YAML, or JSON for .json). */
export async function readConfigDocument(file: string): Promise<unknown> {
  const source = resolve(file);
  return parseText(source, await readText(source));
}

/**
 * What loading a file does once the file is parsed: the schema and cross-references, every named file readable
 * and, for a document from a store (`isStored`), every path absolute. One path for a file and a store revision.
 */
export async function loadConfigDocument(document: unknown, options: ParseConfigOptions & { isStored?: boolean }): Promise<MoatConfig> {
  const result = validateConfig(document, options);
  const pathIssues = options.isStored ? relativePathIssues(document) : [];
  const fileIssues = await checkFiles(referencedFiles(document, options.baseDir));
  const issues = [...(result.ok ? [] : result.issues), ...pathIssues, ...fileIssues];
  if (!result.ok || issues.length > 0) throw new ConfigInvalidError(options.source, issues);
  return result.config;
}

async function readText(source: string): Promise<string> {
  try {
    return await readFile(source, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "it is a directory" : (error as Error).message;
    return unreadable(source, detail, { cause: error, fix: "check the config file's path (a relative path starts at the working directory)" });
  }
}

// JSON.parse for .json, so a JSON file gets JSON's error messages; YAML for everything else.
// The YAML parser is loaded only for a YAML file: an edge configured in JSON does not hold it (~2 MB of heap).
async function parseText(source: string, text: string): Promise<unknown> {
  if (extname(source).toLowerCase() === ".json") return parseJson(source, text);
  const { parseDocument } = await import("yaml");
  // uniqueKeys (the default) makes a repeated key an error rather than a silent overwrite.
  const document = parseDocument(text, { prettyErrors: true });
  const [error] = document.errors;
  if (error) {
    const [start] = error.linePos ?? [];
    const at = start ? `line ${start.line}, column ${start.col}` : "unknown position";
    // yaml's message reads "<what> at line L, column C:" then the offending lines; say the position once, first.
    const message = error.message.replace(/ at line \d+, column \d+:/, ":").trimEnd();
    return unreadable(source, `invalid YAML at ${at}: ${message}`, { cause: error });
  }
  return document.toJS();
}

function parseJson(source: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8 says "at position N (line L column C)" for most syntax errors; the rest quote the text.
    return unreadable(source, `invalid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function unreadable(source: string, detail: string, options: { cause: unknown; fix?: string }): never {
  throw new ConfigUnreadableError(source, detail, options);
}
