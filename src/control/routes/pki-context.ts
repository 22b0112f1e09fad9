// What the certificate, CA and invalidation routes need besides the store: Moat's data directory and the master key its keys are sealed under.
import { ApiDataDirUnavailableError } from "../../errors.ts";
import type { CaRotationPolicy, MasterKey } from "../../pki/index.ts";

export interface DataDirAccess {
  /** `config.dataDir`: the CA, the certificates and the invalidation file of the edge beside the API. */
  dataDir: string;
  masterKey: MasterKey;
  /** The config's `pki.ca` policy for the CA's status and manual steps; default DEFAULT_CA_ROTATION_POLICY. */
  caRotationPolicy?: CaRotationPolicy;
  /**
   * Keeps the store's certificate records of this data directory (its edge's name and inventory): synced after the API
   * changes a certificate or the CA here. Without it the store's records follow at the edge's next certificate event.
   */
  certificateRecords?: { readonly edge: string; sync(): Promise<boolean> };
}

/** The data directory, or the problem that says the API was started without one. */
export function requireDataDir(access: DataDirAccess | undefined, what: string): DataDirAccess {
  if (!access) throw new ApiDataDirUnavailableError(what);
  return access;
}
