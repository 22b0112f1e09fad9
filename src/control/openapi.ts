// The OpenAPI 3.1 document of the admin API, generated from the routes' own zod schemas (zod 4's JSON Schema output is 2020-12, which OpenAPI 3.1 uses).
import { z } from "zod";
import type { ApiRoute } from "./api-route.ts";
import { problemSchema, PROBLEM_CONTENT_TYPE } from "./problem.ts";

type JsonObject = Record<string, unknown>;

const HEADER_DOCS: Readonly<Record<string, string>> = {
  ETag: "The resource's version as a strong ETag (\"3\"): send it back as If-Match",
  Location: "Where the new resource is",
  "If-Match": "The ETag the resource was read with (or *): required to replace or delete; 412 when it has changed since",
  "If-None-Match": "* to create only: 412 when the resource exists",
};

/**
 * The config's objects refuse unknown keys in a refinement (to name each with a "did you mean"), which JSON Schema
 * cannot see: zod writes them as open (`additionalProperties: {}`). Every object of the API is closed; say so.
 */
function closeObjects(context: { jsonSchema: JsonObject }): void {
  const schema = context.jsonSchema;
  const additional = schema.additionalProperties;
  if (schema.type === "object" && schema.properties !== undefined && typeof additional === "object" && additional !== null && Object.keys(additional).length === 0) {
    schema.additionalProperties = false;
  }
}

function toJsonSchema(schema: z.ZodType, io: "input" | "output"): JsonObject {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any", override: closeObjects, reused: "inline" }) as JsonObject;
  delete json.$schema;
  return json;
}

/** Named schemas go under components and are referred to, so that a big one (a distribution) is written once. */
function createComponents() {
  const schemas: Record<string, JsonObject> = {};
  const names = new Map<z.ZodType, string>();
  const refer = (schema: z.ZodType, name: string, io: "input" | "output"): JsonObject => {
    const known = names.get(schema);
    if (known !== undefined) return { $ref: `#/components/schemas/${known}` };
    names.set(schema, name);
    schemas[name] = toJsonSchema(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  };
  refer(problemSchema, "Problem", "output");
  return { schemas, refer };
}

function parametersOf(route: ApiRoute): JsonObject[] {
  const parameters: JsonObject[] = [];
  for (const [location, schema] of [["path", route.params], ["query", route.query]] as const) {
    if (!schema) continue;
    const json = toJsonSchema(schema, "input");
    const properties = (json.properties ?? {}) as Record<string, JsonObject>;
    const required = new Set((json.required ?? []) as string[]);
    for (const [name, property] of Object.entries(properties)) {
      const { description, ...rest } = property;
      parameters.push({ name, in: location, required: location === "path" || required.has(name), schema: rest, ...(description ? { description } : {}) });
    }
  }
  for (const header of route.conditionalHeaders ?? []) {
    parameters.push({ name: header, in: "header", required: false, schema: { type: "string" }, description: HEADER_DOCS[header] });
  }
  return parameters;
}

/** The problems any route may answer, and those of routes with a body or a precondition. */
function errorResponses(route: ApiRoute): Record<string, JsonObject> {
  const problem = (description: string) => ({ description, content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: "#/components/schemas/Problem" } } } });
  const responses: Record<string, JsonObject> = {
    400: problem("The request is not valid: each error names its field"),
    401: problem("No credentials, or credentials the API does not accept"),
    403: problem("The caller's role may not do this"),
    503: problem("The request passed its deadline, or the store is unavailable"),
  };
  if (route.params || route.url.startsWith("/settings/")) responses[404] = problem("No such resource");
  if (route.body) {
    Object.assign(responses, {
      409: problem("It exists already"),
      413: problem("The body is larger than the API takes"),
      415: problem("The body is not application/json"),
      422: problem("The change would make the config invalid: each error names its path"),
    });
  }
  if (route.conditionalHeaders) Object.assign(responses, { 412: problem("If-Match names a version that is no longer current (or If-None-Match: * and it exists)"), 428: problem("If-Match is required") });
  return responses;
}

/** `/distributions/:id` → `/distributions/{id}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, "{$1}");
}

export function buildOpenApiDocument(routes: readonly ApiRoute[], info: { version: string }): JsonObject {
  const { schemas, refer } = createComponents();
  const paths: Record<string, Record<string, JsonObject>> = {};
  for (const route of routes) {
    const responses: Record<string, JsonObject> = {};
    for (const [status, spec] of Object.entries(route.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.headers ? { headers: Object.fromEntries(spec.headers.map((name) => [name, { description: HEADER_DOCS[name], schema: { type: "string" } }])) } : {}),
        ...(spec.schema ? { content: { "application/json": { schema: refer(spec.schema, `${route.operationId}${status}`, "output") } } } : {}),
        ...(spec.content ? { content: { [spec.content.type]: { schema: spec.content.isBinary ? { type: "string", format: "binary" } : { type: "string" } } } } : {}),
      };
    }
    Object.assign(responses, errorResponses(route));
    const parameters = parametersOf(route);
    (paths[openApiPath(route.url)] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      description: `Needs the role ${route.role} or above (viewer < operator < admin).`,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { "application/json": { schema: refer(route.body, `${route.operationId}Body`, "input") } } } } : {}),
      responses,
    };
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "Moat admin API",
      version: info.version,
      description: "Every request needs a bearer token (`moat token create`) or an admin client certificate from Moat's CA (`moat admin issue`). Errors are RFC 9457 problem details.",
    },
    security: [{ bearerToken: [] }, { adminCertificate: [] }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearerToken: { type: "http", scheme: "bearer", description: "moat_<id>_<secret>, from `moat token create` or POST /tokens" },
        adminCertificate: { type: "mutualTLS", description: "A client certificate from Moat's CA with the URI SAN spiffe://<trust domain>/admin/<role>/<name> (`moat admin issue`)" },
      },
    },
  };
}
