// Envoy: verify the edge's certificate (Moat's roots and CRLs) and match its SPIFFE ID natively; a mismatch fails the handshake rather than answering 403.
import { acceptedText, FILE_NOTES, spiffeIdRegex, type SnippetInput } from "./snippet-input.ts";

/** A listener (YAML, Envoy v3 API) with its downstream TLS context and an HTTP route to the app. */
export function envoySnippet(input: SnippetInput): string {
  const { files } = input;
  const upstream = new URL(input.upstream);
  return `# Moat origin mTLS for Envoy: only the edge of ${acceptedText(input)} gets in.
# ${FILE_NOTES.replaceAll("\n", "\n# ")}.
# Envoy matches the SPIFFE ID (URI SAN) itself. A valid certificate of another distribution
# fails the TLS handshake (Envoy cannot answer it with a 403 naming the reason as moat guard does).
# The identity reaches the app in x-forwarded-client-cert (URI=...), which Envoy sanitizes.
# (Not tested by Moat's CI, which runs nginx and HAProxy; check it with \`envoy --mode validate\`.)
static_resources:
  listeners:
  - name: moat_edge
    address: { socket_address: { address: ${input.listen.host}, port_value: ${input.listen.port} } }
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_params: { tls_minimum_protocol_version: TLSv1_2 }
            tls_certificates:
            - certificate_chain: { filename: ${files.cert} }
              private_key: { filename: ${files.key} }
            validation_context:
              trusted_ca: { filename: ${files.caBundle} }
              # Both CRLs (intermediate and root): every level of the chain is checked.
              crl: { filename: ${files.crl} }
              match_typed_subject_alt_names:
              - san_type: URI
                matcher: { safe_regex: { regex: '${spiffeIdRegex(input)}' } }
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: moat_edge
          forward_client_cert_details: SANITIZE_SET
          set_current_client_cert_details: { uri: true }
          request_headers_to_remove: [moat-edge-identity, moat-edge-distribution, moat-edge-origin]
          route_config:
            virtual_hosts:
            - name: app
              domains: ["*"]
              routes: [{ match: { prefix: "/" }, route: { cluster: moat_app } }]
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
  clusters:
  - name: moat_app
    type: STRICT_DNS
    load_assignment:
      cluster_name: moat_app
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { address: ${upstream.hostname}, port_value: ${upstream.port || 80} } } }
`;
}
