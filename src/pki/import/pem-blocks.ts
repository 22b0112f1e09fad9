// Splits PEM text into its blocks (label, RFC 1421 headers, DER body) so that each is told apart before any parser sees it.
import { CertificateImportError } from "../../errors.ts";

export interface PemBlock {
  /** 1-based position among the blocks of the text, for messages. */
  position: number;
  /** The word(s) after BEGIN, e.g. `CERTIFICATE`, `EC PRIVATE KEY`. */
  label: string;
  /** The whole block, LF line endings, ending with "\n": what Node's PEM reader takes. */
  text: string;
  /** RFC 1421 headers such as `Proc-Type: 4,ENCRYPTED` (the legacy OpenSSL encrypted-key form), by lower-cased name. */
  headers: ReadonlyMap<string, string>;
  der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 #]+)-----\n([\s\S]*?)-----END ([A-Z0-9 #]+)-----/g;
const BASE64 = /^[A-Za-z0-9+/=]*$/;

function malformed(where: string, problem: string): CertificateImportError {
  return new CertificateImportError("import-pem-malformed", `${where} is not valid PEM: ${problem}.`, {
    fix: "give the file as the CA sent it: blocks from `-----BEGIN …-----` to `-----END …-----`, base64 inside, nothing cut or edited",
  });
}

/** Headers (`Name: value` lines up to a blank line) and the base64 body of one block. */
function splitBody(body: string): { headers: Map<string, string>; base64: string } {
  const lines = body.split("\n").map((line) => line.trim());
  const headers = new Map<string, string>();
  const blank = lines.indexOf("");
  // Only a block whose first line is a header has headers; otherwise every line is base64.
  const hasHeaders = (lines[0] ?? "").includes(":") && blank > 0;
  for (const line of hasHeaders ? lines.slice(0, blank) : []) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, base64: (hasHeaders ? lines.slice(blank + 1) : lines).join("") };
}

/** Every PEM block of `text`, in order; `where` names the input in messages (e.g. "chainPem"). Throws import-pem-malformed. */
export function readPemBlocks(text: string, where: string): PemBlock[] {
  const normalized = text.replace(/\r\n?/g, "\n");
  const blocks: PemBlock[] = [];
  for (const match of normalized.matchAll(BLOCK)) {
    const [whole, label = "", body = "", endLabel] = match;
    const position = blocks.length + 1;
    if (endLabel !== label) throw malformed(where, `block ${position} begins as ${label} but ends as ${endLabel}`);
    const { headers, base64 } = splitBody(body);
    if (!BASE64.test(base64) || base64.length === 0) {
      throw malformed(where, `block ${position} (${label}) holds characters that are not base64`);
    }
    blocks.push({ position, label, text: `${whole}\n`, headers, der: Buffer.from(base64, "base64") });
  }
  const begins = normalized.match(/-----BEGIN /g)?.length ?? 0;
  if (begins !== blocks.length) throw malformed(where, "a block has a BEGIN line but no matching END line");
  return blocks;
}

/** The import-pem-malformed error for a `where` that holds no block labelled as wanted. */
export function missingBlock(where: string, wanted: string, blocks: readonly PemBlock[]): CertificateImportError {
  const found = blocks.length === 0 ? "no PEM block at all" : `only ${blocks.map((block) => block.label).join(", ")}`;
  return malformed(where, `it holds no ${wanted} block (${found})`);
}
