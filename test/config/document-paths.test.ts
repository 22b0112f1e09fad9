// Stored documents: relative paths made absolute by `moat apply`, refused by the store's validator, and every file path of the schema covered.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { z } from "zod";
import { validateStoredDocument, withAbsolutePaths } from "../../src/config/index.ts";
import { filePath } from "../../src/config/fields.ts";
import { configSchema } from "../../src/config/schema.ts";

type Def = { type: string; [key: string]: unknown };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Every field of the schema that is a `field.filePath`, as `distributions[].origins[].mtls.trustedCa`. */
function filePathFields(schema: z.ZodType, path: string, found: Set<string>): Set<string> {
  if (schema === filePath) return found.add(path);
  const def = defOf(schema);
  if (def.type === "optional" || def.type === "nullable" || def.type === "default") return filePathFields(def.innerType as z.ZodType, path, found);
  if (def.type === "pipe") return filePathFields(def.in as z.ZodType, path, found);
  if (def.type === "array") return filePathFields(def.element as z.ZodType, `${path}[]`, found);
  if (def.type === "record") return filePathFields(def.valueType as z.ZodType, `${path}.<name>`, found);
  if (def.type === "union") for (const option of def.options as z.ZodType[]) filePathFields(option, path, found);
  if (def.type === "object") for (const [key, child] of Object.entries(def.shape as Record<string, z.ZodType>)) filePathFields(child, path === "" ? key : `${path}.${key}`, found);
  return found;
}

/** A document with every path field relative. */
const relative = {
  dataDir: "data",
  pki: { masterKeyFile: "../keys/master.key" },
  cache: { disk: { dir: "cache" } },
  tracing: { otlp: { endpoint: "https://collector.internal:4318/v1/traces", trustedCa: "collector-ca.pem", clientCertificate: { cert: "otlp.pem", key: "otlp.key" }, headersFile: "otlp-headers" } },
  trustStores: {
    one: { caBundle: "./one.pem", crl: "./one.crl" },
    two: { caBundle: "two.pem", crl: ["./a.crl", "/abs/b.crl"] },
  },
  distributions: [
    {
      id: "shop",
      aliases: ["shop.example"],
      viewerCertificate: { cert: "shop.pem", key: "shop.key", passphraseFile: "pass" },
      origins: [
        { id: "api", url: "https://api.internal:9443", mtls: { clientCertificate: { pkcs12: "api.p12", passphraseFile: "p12pass" }, trustedCa: "ca.pem" } },
        { id: "dr", url: "https://dr.internal:9443", mtls: { clientCertificate: { cert: "dr.pem", key: "/abs/dr.key" } } },
      ],
      behaviors: [{ path: "*", target: "api" }],
    },
    {
      id: "blog",
      aliases: ["blog.example"],
      viewerCertificate: { pkcs12: "blog.p12" },
      origins: [{ id: "app", url: "https://app.internal:9443", mtls: { clientCertificate: { cert: "/abs/app.pem", key: "app.key" } } }],
      shield: { url: "https://shield.internal:8443", trustedCa: "shield-ca.pem" },
    },
  ],
};

test("the store refuses every relative path, naming its field; the document is otherwise valid", () => {
  const issues = validateStoredDocument(relative);
  assert.deepEqual(
    issues.map((issue) => issue.path),
    [
      "dataDir",
      "pki.masterKeyFile",
      "cache.disk.dir",
      "tracing.otlp.trustedCa",
      "tracing.otlp.clientCertificate.cert",
      "tracing.otlp.clientCertificate.key",
      "tracing.otlp.headersFile",
      "trustStores.one.caBundle",
      "trustStores.one.crl",
      "trustStores.two.caBundle",
      "trustStores.two.crl[0]",
      "distributions[0].viewerCertificate.cert",
      "distributions[0].viewerCertificate.key",
      "distributions[0].viewerCertificate.passphraseFile",
      "distributions[0].origins[0].mtls.clientCertificate.pkcs12",
      "distributions[0].origins[0].mtls.clientCertificate.passphraseFile",
      "distributions[0].origins[0].mtls.trustedCa",
      "distributions[0].origins[1].mtls.clientCertificate.cert",
      "distributions[1].viewerCertificate.pkcs12",
      "distributions[1].origins[0].mtls.clientCertificate.key",
      "distributions[1].shield.trustedCa",
    ],
  );
  assert.equal(issues[0]?.message, 'must be an absolute path in a stored config (got "data"); `moat apply -f FILE` resolves a file\'s relative paths against its directory');
});

test("every file path the schema has is one the store checks (a new filePath field must be added to document-paths.ts)", () => {
  const inSchema = filePathFields(configSchema as unknown as z.ZodType, "", new Set());
  const checked = new Set(validateStoredDocument(relative).map((issue) => issue.path.replace(/\[\d+\]/g, "[]").replace(/^trustStores\.(one|two)\./, "trustStores.<name>.")));
  assert.ok(inSchema.size >= 13, `the walk found only ${[...inSchema].join(", ")}`);
  assert.deepEqual([...inSchema].sort(), [...checked].sort());
});

test("apply's resolution makes every relative path absolute against the file's directory and leaves the input as it was", () => {
  const absolute = withAbsolutePaths(relative, "/etc/moat");
  assert.deepEqual(validateStoredDocument(absolute), []);
  assert.equal(absolute.dataDir, "/etc/moat/data");
  assert.equal(absolute.pki.masterKeyFile, "/etc/keys/master.key");
  assert.deepEqual(absolute.trustStores.two.crl, ["/etc/moat/a.crl", "/abs/b.crl"]);
  assert.equal(absolute.distributions[0]?.origins[1]?.mtls.clientCertificate.key, "/abs/dr.key");
  assert.equal(relative.dataDir, "data");
});
