// `moat origin list --dist ID`: a distribution's origins over the admin API (origins live inside their distribution: change them with `moat dist replace`).
import { CliUsageError } from "../../errors.ts";
import type { DistributionItem } from "../../sdk/index.ts";
import { API_FLAGS, withApi } from "./api-connection.ts";
import { parseCliArgs } from "../cli-args.ts";
import { readDistribution } from "./dist-command.ts";
import { printResult } from "../table-output.ts";

type Origin = DistributionItem["document"]["origins"][number];

/** Which client certificate the edge shows this origin: Moat's own (the default), an imported one, or none. */
function clientCertificate(origin: Origin): string {
  const source = origin.mtls?.clientCertificate;
  if (source === "none") return "none";
  return source === undefined || source.issuedBy === "moat" ? "moat" : "imported";
}

export async function runOriginList(args: string[]): Promise<number> {
  const { values } = parseCliArgs("origin list", args, { ...API_FLAGS, dist: { type: "string" }, json: { type: "boolean", default: false } });
  const id = values.dist;
  if (!id) throw new CliUsageError("origin list: --dist ID is required: origins belong to a distribution (`moat dist list` names them).");
  const { item } = await withApi("origin list", values, (moat) => readDistribution(moat, id));
  const origins = item.document.origins;
  printResult(values.json, origins, {
    header: ["ID", "URL", "CLIENT CERT", "TRUSTED CA"],
    rows: origins.map((origin) => [origin.id, origin.url, clientCertificate(origin), origin.mtls?.trustedCa ?? "moat"]),
  });
  return 0;
}
