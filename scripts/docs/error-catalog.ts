// Reads the error catalog (src/errors.ts) and the places that throw its errors, with the TypeScript parser, into one row per code: status, meaning, fix.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";

export interface ErrorCodeDoc {
  code: string;
  className: string;
  /** An HTTP status, or "varies" when the code's thrower chooses. */
  status: string;
  meaning: string;
  /** Every distinct fix the code is given (in the class, or where it is thrown); `<name>` stands for a value. */
  fixes: string[];
}

/** Every code of every class in `errorsFile` that extends MoatError, sorted by code. */
export function readErrorCatalog(root: string): ErrorCodeDoc[] {
  const errorsPath = join(root, "src/errors.ts");
  const file = parse(errorsPath);
  const constants = stringConstants(file);
  const typeAliases = literalUnions(file);
  const throwSites = collectThrowSites(join(root, "src"), constants, fixParameterIndexes(file));
  const rows: ErrorCodeDoc[] = [];
  for (const node of file.statements) {
    if (!ts.isClassDeclaration(node) || !node.name || !extendsMoatError(node)) continue;
    const className = node.name.text;
    const superCall = findSuperCall(node);
    if (!superCall) continue;
    const [codeArg, statusArg, ...rest] = superCall.arguments;
    const codes = codesOf(codeArg, node, typeAliases);
    const status = statusArg && ts.isNumericLiteral(statusArg) ? statusArg.text : "varies";
    const classFix = rest.map((arg) => fixOf(arg, constants)).find((fix) => fix !== null) ?? null;
    const meaning = docOf(node, file);
    for (const code of codes) {
      const sites = throwSites.filter((site) => site.className === className && (site.code === null || site.code === code));
      const fixes = unique([...(classFix ? [classFix] : []), ...sites.map((site) => site.fix).filter((fix): fix is string => fix !== null)]);
      const siteStatus = unique(sites.map((site) => site.status).filter((s): s is string => s !== null));
      rows.push({ code, className, status: status !== "varies" ? status : siteStatus.length > 0 ? siteStatus.join(", ") : "varies", meaning, fixes });
    }
  }
  return rows.sort((a, b) => a.code.localeCompare(b.code));
}

function parse(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.ES2024, true);
}

function extendsMoatError(node: ts.ClassDeclaration): boolean {
  return (node.heritageClauses ?? []).some((clause) => clause.types.some((type) => type.expression.getText() === "MoatError"));
}

function findSuperCall(node: ts.ClassDeclaration): ts.CallExpression | undefined {
  let found: ts.CallExpression | undefined;
  const visit = (child: ts.Node): void => {
    if (found) return;
    if (ts.isCallExpression(child) && child.expression.kind === ts.SyntaxKind.SuperKeyword) found = child;
    else ts.forEachChild(child, visit);
  };
  ts.forEachChild(node, visit);
  return found;
}

/** The class's JSDoc, on one line. */
function docOf(node: ts.Node, file: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(file.text, node.getFullStart()) ?? [];
  const last = ranges.at(-1);
  if (!last) return "";
  const text = file.text.slice(last.pos, last.end);
  return text.replace(/^\/\*\*?|\*\/$/g, "").split("\n").map((line) => line.replace(/^\s*\*\s?/, "").trim()).filter(Boolean).join(" ");
}

/** `const X = "…"` (or a template of such constants) at the top of the file, by name. */
function stringConstants(file: ts.SourceFile): Map<string, string> {
  const constants = new Map<string, string>();
  for (const statement of file.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (ts.isIdentifier(declaration.name) && declaration.initializer) {
        const text = textOf(declaration.initializer, constants);
        if (text !== null) constants.set(declaration.name.text, text);
      }
    }
  }
  return constants;
}

/** `type X = "a" | "b"` aliases, by name. */
function literalUnions(file: ts.SourceFile): Map<string, string[]> {
  const unions = new Map<string, string[]>();
  for (const statement of file.statements) {
    if (!ts.isTypeAliasDeclaration(statement) || !ts.isUnionTypeNode(statement.type)) continue;
    const members = statement.type.types.flatMap((type) => (ts.isLiteralTypeNode(type) && ts.isStringLiteral(type.literal) ? [type.literal.text] : []));
    unions.set(statement.name.text, members);
  }
  return unions;
}

/** The codes a super call can pass: a literal, or a constructor parameter typed by a union of literals. */
function codesOf(arg: ts.Expression | undefined, node: ts.ClassDeclaration, unions: Map<string, string[]>): string[] {
  if (!arg) return [];
  if (ts.isStringLiteral(arg)) return [arg.text];
  if (!ts.isIdentifier(arg)) return [];
  const constructor = node.members.find(ts.isConstructorDeclaration);
  const parameter = constructor?.parameters.find((p) => ts.isIdentifier(p.name) && p.name.text === arg.text);
  const typeName = parameter?.type && ts.isTypeReferenceNode(parameter.type) ? parameter.type.typeName.getText() : undefined;
  return typeName ? (unions.get(typeName) ?? []) : [];
}

/** A string, a template (each `${x}` shown as `<x>`, known constants inlined), or a conditional of those. */
function textOf(node: ts.Node, constants: Map<string, string>): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isParenthesizedExpression(node)) return textOf(node.expression, constants);
  if (ts.isTemplateExpression(node)) {
    let text = node.head.text;
    for (const span of node.templateSpans) {
      const expression = span.expression;
      const known = ts.isIdentifier(expression) ? constants.get(expression.text) : undefined;
      text += (known ?? `<${expression.getText().replace(/^\w+\./, "")}>`) + span.literal.text;
    }
    return text;
  }
  if (ts.isConditionalExpression(node)) {
    const whenTrue = textOf(node.whenTrue, constants);
    const whenFalse = textOf(node.whenFalse, constants);
    return [whenTrue, whenFalse].filter((text) => text !== null).join("; or ") || null;
  }
  return null;
}

/** The `fix` of an options object literal (or of a variable `fix` holding one). */
function fixOf(arg: ts.Expression, constants: Map<string, string>): string | null {
  if (!ts.isObjectLiteralExpression(arg)) return null;
  for (const property of arg.properties) {
    if (ts.isPropertyAssignment(property) && property.name.getText() === "fix") return textOf(property.initializer, constants);
    if (ts.isShorthandPropertyAssignment(property) && property.name.text === "fix") return resolveLocal(property, constants);
  }
  return null;
}

/** The value of a local `const fix = …` in the function around `node`. */
function resolveLocal(node: ts.ShorthandPropertyAssignment, constants: Map<string, string>): string | null {
  let scope: ts.Node | undefined = node.parent;
  while (scope && !ts.isFunctionLike(scope)) scope = scope.parent;
  let found: string | null = null;
  const visit = (child: ts.Node): void => {
    if (ts.isVariableDeclaration(child) && ts.isIdentifier(child.name) && child.name.text === node.name.text && child.initializer) found = textOf(child.initializer, constants);
    else ts.forEachChild(child, visit);
  };
  if (scope) ts.forEachChild(scope, visit);
  return found;
}

interface ThrowSite {
  className: string;
  code: string | null;
  status: string | null;
  fix: string | null;
}

/** For classes whose constructor takes the fix as a plain parameter (`fix: string`): its position. */
function fixParameterIndexes(file: ts.SourceFile): Map<string, number> {
  const indexes = new Map<string, number>();
  for (const node of file.statements) {
    if (!ts.isClassDeclaration(node) || !node.name) continue;
    const index = node.members.find(ts.isConstructorDeclaration)?.parameters.findIndex((p) => ts.isIdentifier(p.name) && p.name.text === "fix") ?? -1;
    if (index >= 0) indexes.set(node.name.text, index);
  }
  return indexes;
}

/** Every `new XxxError(…)` in src/ outside errors.ts: its code (when the first argument is a literal), status and fix. */
function collectThrowSites(srcDir: string, constants: Map<string, string>, fixIndexes: Map<string, number>): ThrowSite[] {
  const sites: ThrowSite[] = [];
  for (const path of sourceFiles(srcDir)) {
    if (relative(srcDir, path) === "errors.ts") continue;
    const file = parse(path);
    const visit = (node: ts.Node): void => {
      if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text.endsWith("Error")) {
        const args = node.arguments ?? [];
        const first = args[0];
        const code = first && ts.isStringLiteral(first) ? first.text : null;
        const second = args[1];
        const status = code !== null && second && ts.isNumericLiteral(second) ? second.text : null;
        const fixIndex = fixIndexes.get(node.expression.text);
        const positional = fixIndex === undefined || !args[fixIndex] ? null : textOf(args[fixIndex], constants);
        const fix = positional ?? args.map((arg) => fixOf(arg, constants)).find((text) => text !== null) ?? null;
        sites.push({ className: node.expression.text, code, status, fix });
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return sites;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
