// The viewer-certificate headers: which names are stripped from viewers, what identity a cache key may use, and that a certificate's own bytes can never break or add a header.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { before, describe, it } from "node:test";
import { isViewerCertificateHeader, relayedCertificateHeaders, VIEWER_IDENTITY_HEADER_NAMES, viewerCertificateHeaders, viewerIdentityFields } from "../../../src/edge/pipeline/viewer-cert-headers.ts";
import { cacheStatusNameOf } from "../../../src/edge/pipeline/cache-status-name.ts";
import { describeViewerCertificate } from "../../../src/tls/index.ts";
import type { ViewerCertificate } from "../../../src/tls/index.ts";
import { createViewerCa } from "../../support/viewer-pki.ts";

describe("viewer certificate headers", () => {
  let cert: ViewerCertificate;
  before(async () => {
    const partners = await createViewerCa("Partner CA");
    cert = describeViewerCertificate(new X509Certificate((await partners.issue("valid", "alice")).certPem), []);
  });

  it("strips every certificate header a viewer could forge, by any case of name", () => {
    for (const name of ["moat-viewer-cert-subject", "moat-viewer-cert-anything", "client-cert", "client-cert-chain", "x-forwarded-client-cert"]) assert.ok(isViewerCertificateHeader(name), name);
    // CGI, PHP, WSGI and Rack read "_" as "-": every such spelling is the same header to the origin.
    for (const name of ["Moat_Viewer_Cert_Verify", "moat_viewer-cert_present", "CLIENT_CERT", "client_cert_chain", "x_forwarded_client_cert"]) assert.ok(isViewerCertificateHeader(name), name);
    for (const name of ["x-forwarded-for", "client", "moat-request-id"]) assert.ok(!isViewerCertificateHeader(name), name);
  });

  it("gives a cache key the identity, never the PEM", () => {
    const fields = viewerIdentityFields({ verification: "success", certificate: cert });
    assert.deepEqual(Object.keys(fields), [...VIEWER_IDENTITY_HEADER_NAMES]);
    assert.equal(fields["moat-viewer-cert-subject"], "CN=alice,O=Partner,C=FR");
    assert.ok(!Object.keys(fields).some((name) => name.endsWith("-pem")));
    assert.deepEqual(viewerIdentityFields({ verification: "none", certificate: null }), { "moat-viewer-cert-present": "false", "moat-viewer-cert-verify": "none" });
  });

  it("percent-encodes what a certificate's names hold outside printable ASCII, so no CR/LF ever reaches a header", () => {
    const hostile: ViewerCertificate = { ...cert, subject: 'CN=evil\r\nX-Injected: 1,O=Ünï "quoted"', sans: ["DNS:a.test", 'URI:spiffe://x/"y"\n'] };
    const headers = viewerCertificateHeaders({ verification: "unverified", certificate: hostile }, { moat: true, rfc9440: true, xfcc: true });
    for (const [name, value] of Object.entries(headers)) assert.ok(!/[\r\n\0]/.test(value) && /^[\x20-\x7e]*$/.test(value), `${name}: ${JSON.stringify(value)}`);
    assert.equal(headers["moat-viewer-cert-subject"], 'CN=evil%0D%0AX-Injected: 1,O=%C3%9Cn%C3%AF "quoted"');
    assert.match(headers["x-forwarded-client-cert"] ?? "", /;Subject="CN=evil%0D%0AX-Injected: 1,O=%C3%9Cn%C3%AF \\"quoted\\"";URI="spiffe:\/\/x\/\\"y\\"%0A";DNS="a.test"$/);
  });

  it("sends only the families the distribution forwards", () => {
    const identity = { verification: "success" as const, certificate: cert };
    assert.deepEqual(Object.keys(viewerCertificateHeaders(identity, { moat: false, rfc9440: true, xfcc: false })), ["client-cert"]);
    assert.ok(viewerCertificateHeaders(identity, { moat: true, rfc9440: false, xfcc: false })["moat-viewer-cert-pem"]?.startsWith("-----BEGIN%20CERTIFICATE-----"));
  });

  it("a shield relays exactly the headers an edge sets about its viewer, in the edge's spelling, and nothing else", () => {
    const made = viewerCertificateHeaders({ verification: "success", certificate: cert }, { moat: true, rfc9440: true, xfcc: true });
    const relayed = relayedCertificateHeaders({ ...made, accept: "text/html", moat_viewer_cert_serial: "01", "moat-viewer-cert-extra": "x", "moat-edge-identity": "forged", "moat-viewer-cert-verify": ["success", "success"] as unknown as string });
    // A repeated field is no value the edge made: dropped with the other names it never sets.
    const { "moat-viewer-cert-verify": _verify, ...rest } = made;
    assert.deepEqual(relayed, rest);
    assert.equal(relayedCertificateHeaders({ accept: "text/html" }), null);
  });
});

describe("Cache-Status names", () => {
  it("an edge named by its operator says moat-<name>, made a token; unnamed, a shield says moat-shield and any other edge moat", () => {
    assert.equal(cacheStatusNameOf("fra-1", false), "moat-fra-1");
    assert.equal(cacheStatusNameOf("fra-1", true), "moat-fra-1");
    assert.equal(cacheStatusNameOf("edge 7;hit, x\r\n", false), "moat-edge-7-hit--x--");
    assert.equal(cacheStatusNameOf(null, true), "moat-shield");
    assert.equal(cacheStatusNameOf(null, false), "moat");
    assert.equal(cacheStatusNameOf("", false), "moat");
  });
});
