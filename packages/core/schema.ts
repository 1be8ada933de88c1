/**
 * Message schemas as plain data, so they can be posted to a connection worker and checked there
 * before any app code sees a message. `validate` returns a clean copy holding only the declared
 * fields, with binary fields copied into buffers of their own.
 *
 * @example
 * ```ts
 * import { s, validate } from "@meshtalk/core";
 * const text = s.map({ text: s.str(1000), hops: s.optional(s.uint(255)) });
 * const message = validate(text, { text: "hi", extra: 1 }); // { text: "hi" }
 * ```
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { copyAligned } from "./ring.ts";

/** A UTF-8 string of at most `max` UTF-16 code units. */
export interface StrSchema {
  /** Discriminator. */
  kind: "str";
  /** Longest accepted length. */
  max: number;
}
/** A byte string of at most `max` bytes (or exactly `size`, when given). */
export interface BinSchema {
  /** Discriminator. */
  kind: "bin";
  /** Longest accepted length. */
  max: number;
  /** Exact length, when fixed. */
  size?: number;
}
/** A non-negative integer no larger than `max`. */
export interface UintSchema {
  /** Discriminator. */
  kind: "uint";
  /** Largest accepted value. */
  max: number;
}
/** `true` or `false`. */
export interface BoolSchema {
  /** Discriminator. */
  kind: "bool";
}
/** Exactly one string or number. */
export interface LiteralSchema<V extends string | number = string | number> {
  /** Discriminator. */
  kind: "literal";
  /** The accepted value. */
  value: V;
}
/** An array of at most `max` elements, each matching `of`. */
export interface ArraySchema<E extends Schema = Schema> {
  /** Discriminator. */
  kind: "array";
  /** Schema of every element. */
  of: E;
  /** Most elements accepted. */
  max: number;
}
/** A field that may be absent (or `null`, which is read as absent). */
export interface OptionalSchema<E extends Schema = Schema> {
  /** Discriminator. */
  kind: "optional";
  /** Schema of the value when present. */
  of: E;
}
/** A map with string keys; unknown keys are dropped, declared ones checked. */
export interface MapSchema<F extends Fields = Fields> {
  /** Discriminator. */
  kind: "map";
  /** Schema of each declared field. */
  fields: F;
}
/** A map whose `tag` field names which of `variants` it is. */
export interface OneOfSchema<T extends string = string, V extends Variants = Variants> {
  /** Discriminator. */
  kind: "oneOf";
  /** The field that selects the variant. */
  tag: T;
  /** Schema of each variant, by tag value. */
  variants: V;
}

/** Any schema. */
export type Schema =
  | StrSchema
  | BinSchema
  | UintSchema
  | BoolSchema
  | LiteralSchema
  | ArraySchema
  | OptionalSchema
  | MapSchema
  | OneOfSchema;

/** The fields of a map schema. */
export type Fields = Record<string, Schema>;
/** The variants of a oneOf schema. */
export type Variants = Record<string, MapSchema>;

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;
type RequiredKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends OptionalSchema ? never : K;
}[keyof F];
type OptionalKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends OptionalSchema ? K : never;
}[keyof F];
type InferFields<F extends Fields> = Simplify<
  & { [K in RequiredKeys<F>]: Infer<F[K]> }
  & { [K in OptionalKeys<F>]?: F[K] extends OptionalSchema<infer E> ? Infer<E> : never }
>;

type InferMap<M> = M extends MapSchema<infer F> ? InferFields<F> : never;

/** The TypeScript type of the values a schema accepts. */
export type Infer<S> = S extends StrSchema ? string
  : S extends BinSchema ? Uint8Array
  : S extends UintSchema ? number
  : S extends BoolSchema ? boolean
  : S extends LiteralSchema<infer V> ? V
  : S extends ArraySchema<infer E> ? Infer<E>[]
  : S extends OptionalSchema<infer E> ? Infer<E> | undefined
  : S extends MapSchema<infer F> ? InferFields<F>
  : S extends OneOfSchema<infer T, infer V>
    ? { [K in keyof V & string]: { [P in T]: K } & InferMap<V[K]> }[keyof V & string]
  : never;

/** The schema builders of {@linkcode s}. */
export interface SchemaBuilders {
  /** A string of at most `max` characters. */
  str(max: number): StrSchema;
  /** A byte string of at most `max` bytes, or exactly `size` bytes. */
  bin(max: number, size?: number): BinSchema;
  /** A non-negative safe integer, at most `max`. */
  uint(max?: number): UintSchema;
  /** A boolean. */
  bool(): BoolSchema;
  /** Exactly `value`. */
  literal<V extends string | number>(value: V): LiteralSchema<V>;
  /** An array of at most `max` elements of `of`. */
  array<E extends Schema>(of: E, max: number): ArraySchema<E>;
  /** A map field that may be left out. */
  optional<E extends Schema>(of: E): OptionalSchema<E>;
  /** A map with the given fields. */
  map<F extends Fields>(fields: F): MapSchema<F>;
  /** A map tagged by `tag`, one of `variants`. */
  oneOf<T extends string, V extends Variants>(tag: T, variants: V): OneOfSchema<T, V>;
}

/**
 * Builders for schemas.
 *
 * @example
 * ```ts
 * import { s } from "@meshtalk/core";
 * const hello = s.map({ name: s.str(64), key: s.bin(32, 32), tags: s.array(s.str(16), 8) });
 * ```
 */
export const s: SchemaBuilders = {
  /** A string of at most `max` characters. */
  str(max: number): StrSchema {
    return { kind: "str", max };
  },
  /** A byte string of at most `max` bytes, or exactly `size` bytes. */
  bin(max: number, size?: number): BinSchema {
    return size === undefined ? { kind: "bin", max } : { kind: "bin", max, size };
  },
  /** A non-negative safe integer, at most `max`. */
  uint(max: number = Number.MAX_SAFE_INTEGER): UintSchema {
    return { kind: "uint", max };
  },
  /** A boolean. */
  bool(): BoolSchema {
    return { kind: "bool" };
  },
  /** Exactly `value`. */
  literal<V extends string | number>(value: V): LiteralSchema<V> {
    return { kind: "literal", value };
  },
  /** An array of at most `max` elements of `of`. */
  array<E extends Schema>(of: E, max: number): ArraySchema<E> {
    return { kind: "array", of, max };
  },
  /** A map field that may be left out. */
  optional<E extends Schema>(of: E): OptionalSchema<E> {
    return { kind: "optional", of };
  },
  /** A map with the given fields. */
  map<F extends Fields>(fields: F): MapSchema<F> {
    return { kind: "map", fields };
  },
  /** A map tagged by `tag`, one of `variants`. */
  oneOf<T extends string, V extends Variants>(tag: T, variants: V): OneOfSchema<T, V> {
    return { kind: "oneOf", tag, variants };
  },
};

/**
 * Checks `value` against `schema` and returns a clean copy of it: only declared map fields, binary
 * fields in fresh buffers (never views of the input). Throws a `bad-message` {@linkcode ProtocolError}
 * naming the path of the first field that does not match.
 *
 * @example
 * ```ts
 * import { s, validate } from "@meshtalk/core";
 * validate(s.uint(10), 3); // 3
 * try { validate(s.uint(10), 11); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function validate<S extends Schema>(schema: S, value: unknown, path = "message"): Infer<S> {
  return check(schema, value, path, true) as Infer<S>;
}

/** {@linkcode validate} for a schema known only as `Schema`, where `Infer` cannot be computed. */
export function validateUntyped(
  schema: Schema,
  value: unknown,
  path = "message",
  copyBinary = true,
): unknown {
  return check(schema, value, path, copyBinary);
}

/**
 * Throws as {@linkcode validate} does, without copying anything: for checking outgoing messages.
 *
 * @example
 * ```ts
 * import { assertValid, s } from "@meshtalk/core";
 * assertValid(s.map({ text: s.str(10) }), { text: "ok" });
 * ```
 */
export function assertValid(schema: Schema, value: unknown, path = "message"): void {
  check(schema, value, path, false);
}

function check(schema: Schema, value: unknown, path: string, copy: boolean): unknown {
  switch (schema.kind) {
    case "str":
      if (typeof value !== "string") throw mismatch(path, "a string", value);
      if (value.length > schema.max) {
        throw bad(`${path}: string of ${value.length} characters exceeds ${schema.max}`);
      }
      return value;
    case "bin":
      if (!(value instanceof Uint8Array)) throw mismatch(path, "binary", value);
      if (schema.size !== undefined && value.length !== schema.size) {
        throw bad(`${path}: expected exactly ${schema.size} bytes, got ${value.length}`);
      }
      if (value.length > schema.max) {
        throw bad(`${path}: ${value.length} bytes exceeds ${schema.max}`);
      }
      return copy ? copyAligned(value) : value;
    case "uint":
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
        throw mismatch(path, "a non-negative integer", value);
      }
      if (value > schema.max) throw bad(`${path}: ${value} exceeds ${schema.max}`);
      return value;
    case "bool":
      if (typeof value !== "boolean") throw mismatch(path, "a boolean", value);
      return value;
    case "literal":
      if (value !== schema.value) throw mismatch(path, JSON.stringify(schema.value), value);
      return value;
    case "array": {
      if (!Array.isArray(value)) throw mismatch(path, "an array", value);
      if (value.length > schema.max) {
        throw bad(`${path}: ${value.length} elements exceeds ${schema.max}`);
      }
      return value.map((item, i) => check(schema.of, item, `${path}[${i}]`, copy));
    }
    case "optional":
      return value === undefined || value === null
        ? undefined
        : check(schema.of, value, path, copy);
    case "map":
      return checkFields(schema.fields, value, path, copy);
    case "oneOf": {
      if (!isPlainMap(value)) throw mismatch(path, "a map", value);
      const tag = value[schema.tag];
      if (typeof tag !== "string" || !Object.hasOwn(schema.variants, tag)) {
        const known = Object.keys(schema.variants).join(", ");
        throw bad(`${path}.${schema.tag}: ${describe(tag)} is not one of ${known}`);
      }
      const out = checkFields(schema.variants[tag].fields, value, path, copy);
      out[schema.tag] = tag;
      return out;
    }
  }
}

function checkFields(
  fields: Fields,
  value: unknown,
  path: string,
  copy: boolean,
): Record<string, unknown> {
  if (!isPlainMap(value)) throw mismatch(path, "a map", value);
  const out: Record<string, unknown> = {};
  for (const key in fields) {
    const field = fields[key];
    const item = Object.hasOwn(value, key) ? value[key] : undefined;
    if (item === undefined && field.kind !== "optional") throw bad(`${path}.${key}: missing`);
    const checked = check(field, item, `${path}.${key}`, copy);
    if (checked !== undefined) out[key] = checked;
  }
  return out;
}

function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `binary of ${value.length} bytes`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 32));
  if (typeof value === "object") return "a map";
  return `${typeof value} ${String(value)}`;
}

function mismatch(path: string, expected: string, got: unknown): ProtocolError {
  return bad(`${path}: expected ${expected}, got ${describe(got)}`);
}

function bad(message: string): ProtocolError {
  return new ProtocolError("bad-message", message);
}
