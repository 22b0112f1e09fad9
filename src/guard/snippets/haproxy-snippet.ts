// HAProxy: verify the edge's certificate (Moat's roots, its CRLs) and its distribution, from the subject CN: HAProxy 2.6 (Debian bookworm) has no fetch for URI SANs.
import { acceptedText, commonNameRegex, FILE_NOTES, listenAddress, type SnippetInput } from "./snippet-input.ts";

/** A global line, a frontend and a backend (HAProxy 2.2+: `http-request return`, `ssl-load-extra-del-ext`). */
export function haproxySnippet(input: SnippetInput): string {
  const { files } = input;
  const upstream = new URL(input.upstream);
  return `# Moat origin mTLS for HAProxy: only the edge of ${acceptedText(input)} gets in.
# ${FILE_NOTES.replaceAll("\n", "\n# ")}.
#
# Identity: HAProxy 2.6 (Debian bookworm) has no fetch for a certificate's URI SAN (the SPIFFE
# ID), so this checks the subject CN that Moat writes beside it, "<distribution>/<origin>".
# Only Moat's CA is trusted and it writes that CN only into edge certificates, but the trust
# domain is not checked (do not share one CA between trust domains), and ids longer than 64
# characters together have no CN and are refused. To check the SPIFFE ID itself, run
# \`moat guard\` in front of the app instead.

global
    # Read the key from server.key beside server.crt (not server.crt.key); the certificate file must end in .crt for this.
    ssl-load-extra-del-ext

frontend moat_edge
    mode http
    bind ${listenAddress(input)} ssl crt ${files.cert} ca-file ${files.caBundle} crl-file ${files.crl} verify required ssl-min-ver TLSv1.2
    # verify required: no certificate from Moat's CA, or an expired or revoked one, no handshake.
    http-request return status 403 content-type text/plain hdr Moat-Guard-Refusal identity-not-accepted string "403 Forbidden: identity-not-accepted: this origin accepts ${acceptedText(input)} only" unless { ssl_c_s_dn(CN) -m reg ${commonNameRegex(input)} }
    # Set here, so a value sent from outside never reaches the app.
    http-request del-header Moat-Edge-Identity
    http-request del-header Moat-Edge-Distribution
    http-request del-header Moat-Edge-Origin
    http-request set-header Moat-Edge-Subject %[ssl_c_s_dn(CN)]
    http-request set-header Moat-Edge-Certificate-Serial %[ssl_c_serial,hex]
    default_backend moat_app

backend moat_app
    mode http
    server app ${upstream.host}
`;
}
