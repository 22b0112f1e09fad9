// Caddy: verify the edge's certificate against Moat's roots and check its SPIFFE ID; Caddy cannot check CRLs, and says so.
import { acceptedText, FILE_NOTES, listenAddress, spiffeIdRegex, type SnippetInput } from "./snippet-input.ts";

/** A Caddyfile site block (Caddy 2.6+). */
export function caddySnippet(input: SnippetInput): string {
  const { files } = input;
  return `# Moat origin mTLS for Caddy: only the edge of ${acceptedText(input)} gets in.
# ${FILE_NOTES.replaceAll("\n", "\n# ")}.
#
# REVOCATION: Caddy does not check CRLs for client certificates. A revoked edge certificate is
# accepted until it expires (Moat's last hours to days). If that is not acceptable, run
# \`moat guard\` in front of the app instead: it loads ${files.crl} and reloads it on change.
# (Not tested by Moat's CI, which runs nginx and HAProxy; check it with \`caddy validate\`.)

https://${listenAddress(input)} {
    tls ${files.cert} ${files.key} {
        protocols tls1.2 tls1.3
        client_auth {
            mode require_and_verify
            trusted_ca_cert_file ${files.caBundle}
        }
    }

    @not_accepted not vars_regexp {http.request.tls.client.san.uris.0} "${spiffeIdRegex(input)}"
    handle @not_accepted {
        header Moat-Guard-Refusal identity-not-accepted
        respond "403 Forbidden: identity-not-accepted: this origin accepts ${acceptedText(input)} only" 403
    }

    reverse_proxy ${input.upstream} {
        # Set here, so a value sent from outside never reaches the app.
        header_up Moat-Edge-Identity {http.request.tls.client.san.uris.0}
        header_up Moat-Edge-Certificate-Serial {http.request.tls.client.serial}
        header_up -Moat-Edge-Distribution
        header_up -Moat-Edge-Origin
    }
}
`;
}
