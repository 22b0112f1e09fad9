// Header names as CGI, WSGI, PHP and Rack read them: case and "-"/"_" folded together, so two spellings an app cannot tell apart compare equal.

/**
 * The name an app behind CGI, WSGI, PHP or Rack reads for a header: `Moat_Edge_Identity` and
 * `moat-edge-identity` both become HTTP_MOAT_EDGE_IDENTITY there (the class of CVE-2024-45614 in
 * Puma), so a proxy that strips a header it sets must strip every spelling of it.
 *
 * @example
 * foldedHeaderName("Moat_Viewer_Cert_Verify"); // "moat-viewer-cert-verify"
 */
export function foldedHeaderName(name: string): string {
  return name.toLowerCase().replaceAll("_", "-");
}
