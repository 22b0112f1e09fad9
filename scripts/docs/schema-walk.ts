// Walks the config's zod 4 schema into a flat list of fields (path, type, allowed values), for the generated config reference.
import { z } from "zod";

export interface SchemaField {
  /** `distributions[].origins[].url`; `<name>` stands for a key the user chooses (trust store names). */
  path: string;
  /** What a value looks like: `string`, `duration`, `"off" | { dir, maxSize }`… */
  type: string;
  isRequired: boolean;
}

type Def = { type: string; [key: string]: unknown };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;
const formatOf = (schema: z.ZodType): string | undefined => (z.globalRegistry.get(schema) as { format?: string } | undefined)?.format;

/** Every field of `schema`, depth first, in the schema's own key order. */
export function walkSchema(schema: z.ZodType): SchemaField[] {
  const fields: SchemaField[] = [];
  visitObjectLike(schema, "", fields);
  return fields;
}

function visitObjectLike(schema: z.ZodType, prefix: string, fields: SchemaField[]): void {
  const def = defOf(schema);
  if (def.type === "optional" || def.type === "nullable") return visitObjectLike(def.innerType as z.ZodType, prefix, fields);
  if (def.type === "array") return visitObjectLike(def.element as z.ZodType, `${prefix}[]`, fields);
  if (def.type === "record") return visitObjectLike(def.valueType as z.ZodType, `${prefix}.<name>`, fields);
  if (def.type === "union") {
    for (const option of def.options as z.ZodType[]) visitObjectLike(option, prefix, fields);
    return;
  }
  if (def.type !== "object") return;
  for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    fields.push({ path, type: typeOf(child), isRequired: defOf(child).type !== "optional" });
    visitObjectLike(child, path, fields);
  }
}

/** A short description of the values `schema` takes. */
export function typeOf(schema: z.ZodType): string {
  const format = formatOf(schema);
  if (format) return format.replace(/^moat-/, "");
  const def = defOf(schema);
  switch (def.type) {
    case "optional":
    case "nullable":
      return typeOf(def.innerType as z.ZodType);
    case "pipe":
      return typeOf(def.in as z.ZodType);
    case "string":
      return "string";
    case "number":
      return (schema as unknown as { _zod: { bag: { format?: string } } })._zod.bag.format?.includes("int") ? "integer" : "number";
    case "boolean":
      return "boolean";
    case "null":
      return "null";
    case "literal":
      return (def.values as unknown[]).map((value) => JSON.stringify(value)).join(" | ");
    case "enum":
      return Object.values(def.entries as Record<string, string>).map((value) => JSON.stringify(value)).join(" | ");
    case "array":
      return `list of ${typeOf(def.element as z.ZodType)}`;
    case "record":
      return `map of name → ${typeOf(def.valueType as z.ZodType)}`;
    case "object":
      return `{ ${Object.keys(def.shape as object).join(", ")} }`;
    case "union":
      return (def.options as z.ZodType[]).map(typeOf).join(" | ");
    default:
      return def.type;
  }
}
