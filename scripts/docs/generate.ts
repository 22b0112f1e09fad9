// `npm run docs:gen`: writes the generated reference pages (docs/reference/{config-file,cli,errors,headers}.md) from the code.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, referencePages } from "./reference-pages.ts";

for (const [path, text] of referencePages(ROOT)) {
  writeFileSync(join(ROOT, path), text);
  console.log(`wrote ${path}`);
}
