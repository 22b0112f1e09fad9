// A real OTLP/HTTP trace receiver for tests: an HTTPS server on 127.0.0.1 that takes POSTed OTLP JSON and keeps the spans, optionally requiring a client certificate.
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import type { IssuedCertificate } from "../../src/pki/index.ts";

/** One span as the OTLP JSON encoding has it, its attributes flattened to a record, with its resource's. */
export interface CollectedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 2 is SERVER. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  status: { code?: number; message?: string };
  resource: Record<string, string | number | boolean>;
}

export interface OtlpCollector {
  url: string;
  spans: CollectedSpan[];
  /** Export requests received, with the client certificate's subject CN when one was presented, and the headers. */
  requests: { clientCn: string | null; headers: Record<string, string | string[] | undefined>; contentType: string | undefined }[];
  /** Resolves with the first span (already received or still to come) that matches; rejects after `ms`. */
  waitForSpan(predicate: (span: CollectedSpan) => boolean, ms?: number): Promise<CollectedSpan>;
  close(): Promise<void>;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };

/** OTLP JSON attributes (`[{ key, value: { stringValue } }]`) as a plain record: reading the JSON, as a collector does. */
function flatten(attributes: readonly KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
  }
  return out;
}

/**
 * @example
 * const collector = await startOtlpCollector({ certificate, clientCaPem: partners.certPem });
 * const span = await collector.waitForSpan((span) => span.traceId === traceId);
 */
export async function startOtlpCollector(options: { certificate: IssuedCertificate; clientCaPem?: string }): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const requests: OtlpCollector["requests"] = [];
  const waiters = new Set<() => void>();
  const server = https.createServer(
    {
      key: options.certificate.keyPem,
      cert: options.certificate.chainPem,
      ...(options.clientCaPem ? { ca: options.clientCaPem, requestCert: true, rejectUnauthorized: true } : {}),
    },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        requests.push({ clientCn: typeof peer?.subject?.CN === "string" ? peer.subject.CN : null, headers: req.headers, contentType: req.headers["content-type"] });
        if (req.method !== "POST" || req.url !== "/v1/traces") {
          res.writeHead(404).end();
          return;
        }
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: (Omit<CollectedSpan, "attributes" | "resource" | "status" | "parentSpanId"> & { parentSpanId?: string; attributes?: KeyValue[]; status?: CollectedSpan["status"] })[] }[] }[];
        };
        for (const resourceSpans of body.resourceSpans ?? []) {
          const resource = flatten(resourceSpans.resource?.attributes);
          for (const scope of resourceSpans.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              spans.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? "", name: span.name, kind: span.kind, attributes: flatten(span.attributes), status: span.status ?? {}, resource });
            }
          }
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
        for (const wake of waiters) wake();
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  // Every wait has a deadline: a span that never comes fails the test with what did come.
  const waitForSpan = (predicate: (span: CollectedSpan) => boolean, ms = 15_000) =>
    new Promise<CollectedSpan>((resolve, reject) => {
      const check = () => {
        const found = spans.find(predicate);
        if (!found) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no span matched within ${ms} ms; received ${spans.length}: ${JSON.stringify(spans.map((span) => [span.name, span.traceId])).slice(0, 400)}`));
      }, ms);
      waiters.add(check);
      check();
    });
  return {
    url: `https://127.0.0.1:${port}/v1/traces`,
    spans,
    requests,
    waitForSpan,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
