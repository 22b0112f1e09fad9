// A schema for a mapping that names each unknown key, with a "did you mean" for typos.

import { z } from "zod";
import { isMapping } from "./raw.ts";
import { didYouMean } from "./suggest.ts";

/**
 * Like z.strictObject, but reports one issue per unknown key, at that key's own path
 * (`distributions[0].orgins: unknown key (did you mean "origins"?)`), where zod would report
 * one issue for all of them at the parent. Adding a key to the format is adding it to `shape`.
 */
export function closedObject<Shape extends z.ZodRawShape>(shape: Shape): z.ZodObject<Shape, z.core.$strict> {
  const knownKeys = Object.keys(shape);
  const schema = z.looseObject(shape).superRefine(
    (value, ctx) => {
      for (const key of Object.keys(value)) {
        if (Object.hasOwn(shape, key)) continue;
        ctx.addIssue({ code: "custom", path: [key], message: `unknown key${didYouMean(key, knownKeys)}`, input: value[key] });
      }
    },
    // Run even when a known key failed, so that a typo is reported together with everything else.
    { when: (payload) => isMapping(payload.value) },
  );
  // An unknown key always fails the parse, so a successful output has exactly the keys of `shape`.
  return schema as unknown as z.ZodObject<Shape, z.core.$strict>;
}
