// Moat's CA over the API: its status (generations, expiry, rollover), its bundle and CRL, and the rotation steps of `moat ca` (admins only).
import { z } from "zod";
import { closedObject, parseDuration } from "../../config/index.ts";
import {
  DEFAULT_CA_ROTATION_POLICY,
  ensureFreshCrl,
  KEY_ALGORITHMS,
  openCertificateAuthority,
  readCaBundle,
  readCaCertificates,
  readCaGenerations,
  readCaStatus,
  readCaPublication,
  rolloverNewRoot,
  runCaRotationStep,
  writeCaPublication,
} from "../../pki/index.ts";
import type { CaRotationPolicy, KeyAlgorithm, ManualCaRotationStep } from "../../pki/index.ts";
import { fleetTrustOf, requireFleetTrusts } from "../../store/index.ts";
import type { Store } from "../../store/index.ts";
import { defineRoute } from "../api-route.ts";
import type { ApiRoute } from "../api-route.ts";
import { caPublicationEvent, caRotationEvent, crlPublishedEvent } from "../audit-events.ts";
import { actorOf } from "../auth.ts";
import type { DataDirAccess } from "./pki-context.ts";
import { requireDataDir } from "./pki-context.ts";

const TAG = "Certificate authority";
const PEM_CHAIN = "application/pem-certificate-chain";

const caStatusSchema = z
  .strictObject({
    bundleRoots: z.int().meta({ description: "How many roots bundle.pem holds (two during a root rollover)" }),
    rollover: z
      .strictObject({
        phase: z.enum(["prepared", "activated"]),
        preparedAt: z.string(),
        activateAt: z.string().optional(),
        activatedAt: z.string().optional(),
        finishAt: z.string().optional(),
        overlapMs: z.int(),
        fromRootSerial: z.string(),
        toRootSerial: z.string(),
      })
      .nullable()
      .meta({ description: "The root rollover in progress: prepared (both roots trusted, the old one issues) or activated (the new one issues)" }),
    certificates: z.array(z.strictObject({ role: z.string(), subject: z.string(), serialHex: z.string(), notBefore: z.string(), notAfter: z.string() })),
    next: z.array(z.strictObject({ step: z.string(), at: z.string() })).meta({ description: "The steps due next under the rotation policy, and when (an edge with pki.ca.autoRotate takes them)" }),
    crlBaseUrl: z
      .string()
      .nullable()
      .meta({ description: "The CA's CRL publication URL (moat ca publication): certificates issued now carry the CRL Distribution Point <crlBaseUrl>crl/<issuer serial>.der; null: none" }),
    fleet: z
      .strictObject({
        rootFingerprint256: z.string().meta({ description: "SHA-256 of the new root (colon-separated hex)" }),
        trusting: z.array(z.string()).meta({ description: "Live edges (ok, behind) whose bundle holds the new root" }),
        holdingBack: z
          .array(z.strictObject({ name: z.string(), health: z.string(), roots: z.array(z.string()).nullable().meta({ description: "The roots it reported trusting; null: it reported none" }) }))
          .meta({ description: "Live edges that do not report trusting the new root: activation is refused (ca-rollover-held-back) while any is listed" }),
        notWaitedFor: z.array(z.strictObject({ name: z.string(), health: z.string() })).meta({ description: "Silent or gone edges: not waited for; they take the bundle when they come back" }),
      })
      .nullable()
      .meta({ description: "During a root rollover: which edges of the store's fleet trust the new root, and which hold its activation back; null with no rollover in progress" }),
  })
  .meta({ title: "CaStatus" });

const duration = (what: string) =>
  z
    .string()
    .superRefine((text, ctx) => {
      try {
        if (parseDuration(text) <= 0) ctx.addIssue({ code: "custom", message: "must be more than 0", input: text });
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message, input: text });
      }
    })
    .optional()
    .meta({ description: what });

const stepResultSchema = z.strictObject({
  step: z.string(),
  summary: z.string(),
  from: z.string().optional(),
  to: z.string().optional(),
  reissuesLeaves: z.boolean().meta({ description: "Whether a running edge re-issues its certificates from the new intermediate (it picks every step up by itself)" }),
  crl: z.strictObject({ crlNumber: z.int(), nextUpdate: z.string() }),
  status: caStatusSchema,
});

function iso(value: Date | undefined): string | undefined {
  return value?.toISOString();
}

/** The fleet against the new root of a rollover in progress (GET /ca's `fleet`). */
async function fleetBody(store: Store, dataDir: string): Promise<z.output<typeof caStatusSchema>["fleet"]> {
  const newRoot = await rolloverNewRoot(dataDir);
  if (!newRoot) return null;
  const trust = fleetTrustOf((await store.edges.fleet({ now: new Date() })).items, newRoot.fingerprint256);
  return { rootFingerprint256: trust.fingerprint256, trusting: trust.trusting, holdingBack: trust.holdingBack.map((edge) => ({ name: edge.name, health: edge.health, roots: edge.roots === null ? null : [...edge.roots] })), notWaitedFor: trust.notWaitedFor };
}

async function statusBody(store: Store, dataDir: string, policy: CaRotationPolicy): Promise<z.output<typeof caStatusSchema>> {
  const [status, fleet] = await Promise.all([readCaStatus(dataDir, policy), fleetBody(store, dataDir)]);
  const rollover = status.rollover;
  return {
    bundleRoots: status.bundleRoots,
    rollover:
      rollover === null
        ? null
        : {
            phase: rollover.phase,
            preparedAt: rollover.preparedAt.toISOString(),
            ...(rollover.phase === "prepared" ? { activateAt: iso(rollover.activateAt) } : { activatedAt: iso(rollover.activatedAt), finishAt: iso(rollover.finishAt) }),
            overlapMs: rollover.overlapMs,
            fromRootSerial: rollover.fromRootSerial,
            toRootSerial: rollover.toRootSerial,
          },
    certificates: status.certificates.map((entry) => ({ role: entry.role, subject: entry.subject, serialHex: entry.serialHex, notBefore: entry.notBefore.toISOString(), notAfter: entry.notAfter.toISOString() })),
    next: status.next.map((entry) => ({ step: entry.step, at: entry.at.toISOString() })),
    crlBaseUrl: status.crlBaseUrl,
    fleet,
  };
}

export function certificateAuthorityRoutes(store: Store, now: () => Date, access: DataDirAccess | undefined): ApiRoute[] {
  const what = "the CA";
  const policyOf = (context: DataDirAccess) => context.caRotationPolicy ?? DEFAULT_CA_ROTATION_POLICY;
  const step = (url: string, operationId: string, manual: ManualCaRotationStep, summary: string, body: z.ZodType<{ validity?: string; overlap?: string; keyAlgorithm?: KeyAlgorithm }>) =>
    defineRoute({
      method: "POST",
      url,
      operationId,
      summary,
      tag: TAG,
      role: "admin",
      body,
      responses: { 200: { description: "Done: what changed, the CRL published after it, and the CA's status now", schema: stepResultSchema } },
      async handler({ body: options, identity }) {
        const context = requireDataDir(access, what);
        const base = policyOf(context);
        const policy: CaRotationPolicy = {
          ...base,
          ...(options.validity === undefined ? {} : manual === "renew-intermediate" ? { intermediateValidityMs: parseDuration(options.validity) } : { rootValidityMs: parseDuration(options.validity) }),
          ...(options.overlap === undefined ? {} : { rolloverOverlapMs: parseDuration(options.overlap) }),
        };
        // The new root issues only once every live edge of the store's fleet trusts it (409 ca-rollover-held-back otherwise); health is judged by the wall clock the heartbeats were written with.
        const fleetGate = (newRoot: { serialHex: string; fingerprint256: string }) => requireFleetTrusts(store.edges, newRoot, new Date());
        const done = await runCaRotationStep(manual, { dataDir: context.dataDir, masterKey: context.masterKey, clock: now, policy, fleetGate, ...(options.keyAlgorithm ? { keyAlgorithm: options.keyAlgorithm } : {}) });
        const actor = actorOf(identity);
        await store.audit.record(caRotationEvent(actor, done.result));
        await store.audit.record(crlPublishedEvent(actor, done.crl));
        // The CA's certificates in the store follow (bounded; an outage is logged by the recorder, and retried).
        await context.certificateRecords?.sync();
        return {
          status: 200,
          body: {
            step: done.result.step,
            summary: done.result.summary,
            ...(done.result.from ? { from: done.result.from } : {}),
            ...(done.result.to ? { to: done.result.to } : {}),
            reissuesLeaves: done.reissuesLeaves,
            crl: { crlNumber: done.crl.crlNumber, nextUpdate: done.crl.nextUpdate.toISOString() },
            status: await statusBody(store, context.dataDir, base),
          },
        };
      },
    });
  const noOptions = closedObject({});
  return [
    defineRoute({
      method: "GET",
      url: "/ca",
      operationId: "getCaStatus",
      summary: "The CA's generations (active, pending, retired roots and intermediates), their expiry, the rollover in progress and the steps due",
      tag: TAG,
      role: "viewer",
      responses: { 200: { description: "The CA's status", schema: caStatusSchema } },
      async handler() {
        const context = requireDataDir(access, what);
        return { status: 200, body: await statusBody(store, context.dataDir, policyOf(context)) };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/ca/bundle",
      operationId: "getCaBundle",
      summary: "The CA bundle (PEM): the roots origins and viewers trust; with intermediates=true, every intermediate an edge may present too",
      tag: TAG,
      role: "viewer",
      query: closedObject({ intermediates: z.enum(["true", "false"]).optional().meta({ description: "Append the intermediates (for an origin that cannot see the one the edge sends); never trust anchors" }) }),
      responses: { 200: { description: "PEM certificates", content: { type: PEM_CHAIN } } },
      async handler({ query }) {
        const { dataDir } = requireDataDir(access, what);
        let pem = await readCaBundle(dataDir);
        if (query.intermediates === "true") {
          const certificates = await readCaCertificates(dataDir);
          const { pending } = await readCaGenerations(dataDir);
          pem += [certificates.intermediatePem, ...certificates.previousIntermediatePems, ...(pending ? [pending.intermediatePem] : [])].join("");
        }
        return { status: 200, body: pem, headers: { "content-type": PEM_CHAIN } };
      },
    }),
    defineRoute({
      method: "GET",
      url: "/ca/crl",
      operationId: "getCaCrl",
      summary: "The CRL origins load, fresh (republished when due): PEM bundle (the intermediate's CRL then the root's), or the intermediate's alone as PEM or DER",
      tag: TAG,
      role: "viewer",
      query: closedObject({ format: z.enum(["bundle", "pem", "der"]).optional().meta({ description: "bundle (default): what nginx ssl_crl / HAProxy crl-file load; pem or der: the intermediate's CRL alone" }) }),
      responses: { 200: { description: "application/x-pem-file, or application/pkix-crl (DER) with format=der", content: { type: "application/pkix-crl", isBinary: true } } },
      async handler({ query }) {
        const { dataDir, masterKey } = requireDataDir(access, what);
        const ca = await openCertificateAuthority({ dataDir, masterKey });
        const { crl } = await ensureFreshCrl({ ca, dataDir, masterKey });
        const format = query.format ?? "bundle";
        if (format === "der") return { status: 200, body: crl.der, headers: { "content-type": "application/pkix-crl" } };
        return { status: 200, body: format === "pem" ? crl.pem : crl.bundlePem, headers: { "content-type": "application/x-pem-file" } };
      },
    }),
    defineRoute({
      method: "PUT",
      url: "/ca/publication",
      operationId: "setCaPublication",
      summary: "Set (or clear, with null) the CA's CRL base URL, as moat ca publication: certificates issued from now on carry the CRL Distribution Point <crlBaseUrl>crl/<issuer serial>.der",
      tag: TAG,
      role: "admin",
      body: closedObject({
        crlBaseUrl: z
          .string()
          .nullable()
          .meta({ description: "An absolute http: URL with no user name, query or fragment (refused with crl-base-url-invalid otherwise), e.g. http://edge.example.com/.well-known/moat/; null: no CRL Distribution Point" }),
      }),
      responses: { 200: { description: "The CA's status with the new setting; certificates already issued keep theirs until renewed", schema: caStatusSchema } },
      async handler({ body, identity }) {
        const context = requireDataDir(access, what);
        await readCaBundle(context.dataDir); // no CA: say so, rather than write into nothing
        const before = (await readCaPublication(context.dataDir)).crlBaseUrl;
        const { crlBaseUrl } = await writeCaPublication(context.dataDir, { crlBaseUrl: body.crlBaseUrl });
        // Setting what is already set is no change, and records nothing.
        if (crlBaseUrl !== before) await store.audit.record(caPublicationEvent(actorOf(identity), before, crlBaseUrl));
        return { status: 200, body: await statusBody(store, context.dataDir, policyOf(context)) };
      },
    }),
    step("/ca/renew-intermediate", "renewCaIntermediate", "renew-intermediate", "Renew the intermediate under the same root now (a new key); a running edge re-issues its certificates from it", closedObject({ validity: duration("Life of the new intermediate (default 5 years, never past its root's)") })),
    step("/ca/rollover/prepare", "prepareCaRootRollover", "prepare-root-rollover", "Root rollover, step 1: make a new root and intermediate; bundle.pem holds both roots, the old one still issues", closedObject({
      overlap: duration("How long both roots are trusted before the new one may issue, and again before the old one leaves (default 30d)"),
      validity: duration("Life of the new root (default 10 years)"),
      keyAlgorithm: z.enum(KEY_ALGORITHMS).optional(),
    })),
    step("/ca/rollover/activate", "activateCaRootRollover", "activate-root-rollover", "Root rollover, step 2: the new root's intermediate issues; a running edge re-issues its certificates", noOptions),
    step("/ca/rollover/finish", "finishCaRootRollover", "finish-root-rollover", "Root rollover, step 3: the old root leaves bundle.pem", noOptions),
  ];
}
