// Watches the files a config names (viewer trust stores, imported certificates and keys, origins' trusted CAs, the trace collector's TLS files) and asks for a rebuild when one changes: a replaced file takes effect without a restart or a SIGHUP.
import type { CertificateSource, MoatConfig } from "../../config/index.ts";
import { watchFiles } from "../../file-watch.ts";
import type { Logger } from "../../observe/index.ts";
import type { CertificateUse } from "../../pki/index.ts";
import { storedFiles } from "./credentials.ts";

export interface ConfiguredFilesWatch {
  stop(): void;
}

/**
 * The files of a certificate imported from another CA: its chain and key, or its PKCS#12, and the passphrase; for one
 * imported through the admin API, its slot's `active` pointer, which a re-import replaces.
 */
function importedCertificateFiles(source: CertificateSource | { kind: "none" }, dataDir: string, use: CertificateUse): string[] {
  if (source.kind === "stored") return storedFiles(dataDir, source, use);
  if (source.kind !== "imported") return [];
  const files = source.format === "pem" ? [source.certFile, source.keyFile] : [source.pkcs12File];
  return source.passphraseFile ? [...files, source.passphraseFile] : files;
}

/** Every file the running snapshot was built from, outside the data directory, each once (distributions share certificates). */
export function configuredFiles(config: MoatConfig): string[] {
  const used = new Set(config.distributions.map((d) => d.viewerMtls.trustStore));
  const files = config.trustStores.filter((s) => used.has(s.name)).flatMap((store) => [store.caBundleFile, ...store.crlFiles]);
  for (const distribution of config.distributions) {
    files.push(...importedCertificateFiles(distribution.viewerCertificate, config.dataDir, "viewer-server"));
    for (const origin of distribution.origins) {
      files.push(...importedCertificateFiles(origin.mtls.clientCertificate, config.dataDir, "origin-client"));
      if (origin.mtls.trustedCaFile) files.push(origin.mtls.trustedCaFile);
    }
    if (distribution.shield?.trustedCaFile) files.push(distribution.shield.trustedCaFile);
  }
  // The collector's CA, the edge's certificate for it and its headers file: a rebuild compares their contents and replaces the exporter if they changed.
  const otlp = config.tracing?.otlp;
  if (otlp?.trustedCaFile) files.push(otlp.trustedCaFile);
  if (otlp?.clientCertificate) files.push(otlp.clientCertificate.certFile, otlp.clientCertificate.keyFile);
  if (otlp?.headersFile) files.push(otlp.headersFile);
  return [...new Set(files)];
}

/**
 * Directories are watched rather than files: a certificate, bundle or CRL is usually replaced by a
 * rename (an editor, `mv`, certbot, a CRL fetcher writing atomically), which a watch on the old file would miss.
 * @example
 * const watch = watchConfiguredFiles(config, log, () => void edge.apply(config));
 */
export function watchConfiguredFiles(config: MoatConfig, log: Logger, onChange: (file: string) => void): ConfiguredFilesWatch {
  return watchFiles({
    files: configuredFiles(config),
    onChange: (files) => onChange(files.at(-1) as string),
    onWatchError: (dir, error) =>
      log.error({ dir, error: { message: error.message } }, "cannot watch the directory of a configured file; a change to its files is seen by polling, within 2 s"),
  });
}
