// nginx: verify the edge's certificate (Moat's roots, its CRLs) and its distribution, from the subject CN, since nginx cannot read URI SANs.
import { acceptedText, commonNameRegex, FILE_NOTES, listenAddress, type SnippetInput } from "./snippet-input.ts";

/** An http-context `map` and a `server` block (nginx 1.11.6+, for RFC 2253 $ssl_client_s_dn). */
export function nginxSnippet(input: SnippetInput): string {
  const { files } = input;
  return `# Moat origin mTLS for nginx: only the edge of ${acceptedText(input)} gets in.
# Put this in the http {} context. ${FILE_NOTES.replaceAll("\n", "\n# ")}.
#
# Identity: nginx cannot read a certificate's URI SAN (the SPIFFE ID
# spiffe://${input.trustDomain}/distribution/<id>/origin/<id>), so this checks the subject CN
# that Moat writes beside it, "<distribution>/<origin>". That is as strong here, because only
# Moat's CA (ca-bundle.pem) is trusted and it writes that CN only into edge certificates, but:
#  - the trust domain is not checked: do not share one CA between trust domains;
#  - ids longer than 64 characters together have no CN and are refused (fail closed).
# To check the SPIFFE ID itself, run \`moat guard\` in front of the app instead.

map $ssl_client_s_dn $moat_edge_accepted {
    default 0;
    "~^CN=${commonNameRegex(input).slice(1)}" 1;
}

server {
    listen ${listenAddress(input)} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate     ${files.cert};
    ssl_certificate_key ${files.key};

    # The edge must present a certificate chaining to Moat's root, not revoked.
    ssl_client_certificate ${files.caBundle};
    ssl_verify_client on;
    ssl_verify_depth 2;
    # Both CRLs (intermediate and root): OpenSSL checks every level of the chain.
    ssl_crl ${files.crl};

    location / {
        if ($moat_edge_accepted = 0) {
            add_header Moat-Guard-Refusal identity-not-accepted always;
            return 403 "403 Forbidden: identity-not-accepted: this origin accepts ${acceptedText(input)} only\\n";
        }
        proxy_pass ${input.upstream};
        # Set here, so a value sent from outside never reaches the app.
        proxy_set_header Moat-Edge-Subject $ssl_client_s_dn;
        proxy_set_header Moat-Edge-Certificate-Serial $ssl_client_serial;
        proxy_set_header Moat-Edge-Identity "";
        proxy_set_header Moat-Edge-Distribution "";
        proxy_set_header Moat-Edge-Origin "";
    }
}
`;
}
