// `npm run sdk:gen`: writes src/sdk/openapi-types.ts from the admin API's OpenAPI document, built from the code.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSdkTypes, ROOT, SDK_TYPES_PATH } from "./sdk-types.ts";

writeFileSync(join(ROOT, SDK_TYPES_PATH), await generateSdkTypes());
console.log(`wrote ${SDK_TYPES_PATH}`);
