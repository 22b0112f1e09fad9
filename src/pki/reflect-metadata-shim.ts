// The smallest Reflect metadata API that @peculiar/x509's DI container (tsyringe) needs before it will load.
//
// Why: @peculiar/x509 2.x imports tsyringe, which throws at import time unless
// `Reflect.getMetadata` exists, and no polyfill (reflect-metadata,
// @abraham/reflection) is among Moat's dependencies. tsyringe only reads
// "design:paramtypes" (never emitted here: we do not compile decorators) and
// reads/writes its own "injectionTokens" key, so a WeakMap per target is
// enough. If a real polyfill is loaded first, this module leaves it alone.
// Replace this file with `import "reflect-metadata"` once that is a dependency.

type MetadataTarget = object;

interface ReflectMetadataApi {
  getMetadata(key: unknown, target: MetadataTarget): unknown;
  getOwnMetadata(key: unknown, target: MetadataTarget): unknown;
  defineMetadata(key: unknown, value: unknown, target: MetadataTarget): void;
}

const store = new WeakMap<MetadataTarget, Map<unknown, unknown>>();

const shim: ReflectMetadataApi = {
  getOwnMetadata(key, target) {
    return store.get(target)?.get(key);
  },
  // Like reflect-metadata: walk the prototype chain (a subclass sees its parent's metadata).
  getMetadata(key, target) {
    for (let t: MetadataTarget | null = target; t !== null; t = Object.getPrototypeOf(t) as MetadataTarget | null) {
      const value = store.get(t)?.get(key);
      if (value !== undefined) return value;
    }
    return undefined;
  },
  defineMetadata(key, value, target) {
    let entries = store.get(target);
    if (!entries) store.set(target, (entries = new Map()));
    entries.set(key, value);
  },
};

const reflect = Reflect as unknown as Partial<ReflectMetadataApi>;
if (typeof reflect.getMetadata !== "function") Object.assign(Reflect, shim);
