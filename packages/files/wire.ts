/**
 * The files app on the wire: its message schemas, the words a refusal uses, and how a manifest
 * and its signature travel in an `announce`.
 *
 * @module
 */
import {
  type AppDefinition,
  type ArraySchema,
  type BinSchema,
  defineApp,
  HASH_BYTES,
  type Infer,
  type MapSchema,
  type OneOfSchema,
  type OptionalSchema,
  s,
  type StrSchema,
  type UintSchema,
} from "@meshtalk/core";
import { type Manifest, type ManifestSignature, MAX_PIECE_SIZE, MAX_PIECES } from "./manifest.ts";
import { MAX_FOLDER_FILES, MAX_PATH_BYTES } from "./names.ts";

type FileRef = MapSchema<{ file: StrSchema; piece: UintSchema }>;

/**
 * Schema of every files app message.
 *
 * @example
 * ```ts
 * import { validate } from "@meshtalk/core";
 * import { filesApp, type FilesSchema } from "@meshtalk/files";
 * const schema: FilesSchema = filesApp.schema;
 * console.log(validate(schema, { t: "want", file: "ab".repeat(32) }).t); // "want"
 * ```
 */
export type FilesSchema = OneOfSchema<"t", {
  announce: MapSchema<{
    name: StrSchema;
    size: UintSchema;
    pieceSize: UintSchema;
    pieces: BinSchema;
    files: OptionalSchema<ArraySchema<MapSchema<{ path: StrSchema; size: UintSchema }>>>;
    root: StrSchema;
    origin: StrSchema;
    key: BinSchema;
    sig: BinSchema;
    holder: StrSchema;
    address: OptionalSchema<StrSchema>;
    hops: UintSchema;
  }>;
  want: MapSchema<{ file: StrSchema }>;
  have: MapSchema<{ file: StrSchema; bits: BinSchema }>;
  got: FileRef;
  request: FileRef;
  cancel: FileRef;
  refuse: MapSchema<{ file: StrSchema; piece: UintSchema; reason: StrSchema }>;
  piece: MapSchema<{ file: StrSchema; offset: UintSchema; data: BinSchema }>;
}>;

const ref: FileRef = s.map({ file: s.str(64), piece: s.uint(MAX_PIECES) });

/** Longest `file` of a `piece`: a root, `/`, and the number of a folder's file. */
const PIECE_KEY_LENGTH = 64 + 1 + String(MAX_FOLDER_FILES - 1).length;

/**
 * The files app's wire messages; `piece` carries bulk bytes the workers verify and store.
 *
 * @example
 * ```ts
 * import { filesApp } from "@meshtalk/files";
 * console.log(filesApp.name, filesApp.bulk); // files { data: "data", key: "file", offset: "offset" }
 * ```
 */
export const filesApp: AppDefinition<FilesSchema> = defineApp(
  "files",
  s.oneOf("t", {
    announce: s.map({
      name: s.str(255),
      size: s.uint(),
      pieceSize: s.uint(MAX_PIECE_SIZE),
      pieces: s.bin(MAX_PIECES * HASH_BYTES),
      files: s.optional(
        s.array(s.map({ path: s.str(MAX_PATH_BYTES), size: s.uint() }), MAX_FOLDER_FILES),
      ),
      root: s.str(64),
      origin: s.str(32),
      key: s.bin(32),
      sig: s.bin(64),
      holder: s.str(32),
      address: s.optional(s.str(300)),
      hops: s.uint(255),
    }),
    want: s.map({ file: s.str(64) }),
    have: s.map({ file: s.str(64), bits: s.bin(MAX_PIECES / 8) }),
    got: ref,
    request: ref,
    cancel: ref,
    refuse: s.map({ file: s.str(64), piece: s.uint(MAX_PIECES), reason: s.str(200) }),
    piece: s.map({ file: s.str(PIECE_KEY_LENGTH), offset: s.uint(), data: s.bin(MAX_PIECE_SIZE) }),
  }),
  { bulk: { data: "data", key: "file", offset: "offset" } },
);

/**
 * A files app message.
 *
 * @example
 * ```ts
 * import type { FilesMessage } from "@meshtalk/files";
 * const request: FilesMessage = { t: "request", file: "ab".repeat(32), piece: 0 };
 * ```
 */
export type FilesMessage = Infer<FilesSchema>;

/**
 * An `announce` message: a manifest, who signed it, and one peer that holds the file.
 *
 * @example
 * ```ts
 * import type { Announcement } from "./wire.ts";
 * const hops = (body: Announcement) => body.hops;
 * ```
 */
export type Announcement = Extract<FilesMessage, { t: "announce" }>;

/**
 * Hop limit of announcements.
 *
 * @example
 * ```ts
 * import { ANNOUNCE_HOPS } from "@meshtalk/files";
 * console.log(ANNOUNCE_HOPS); // 16
 * ```
 */
export const ANNOUNCE_HOPS = 16;

/**
 * The `refuse` reason of a peer with too many requests waiting: it has the piece, and may be
 * asked again once it has caught up. Any other reason means it lacks the piece.
 *
 * @example
 * ```ts
 * import { REFUSED_BUSY } from "./wire.ts";
 * console.log(REFUSED_BUSY); // "busy"
 * ```
 */
export const REFUSED_BUSY = "busy";

/**
 * The `refuse` reason of a peer asked for a piece it does not have.
 *
 * @example
 * ```ts
 * import { REFUSED_MISSING } from "./wire.ts";
 * console.log(REFUSED_MISSING); // "do not have it"
 * ```
 */
export const REFUSED_MISSING = "do not have it";

/**
 * Why a request was refused: {@linkcode REFUSED_BUSY} or {@linkcode REFUSED_MISSING}.
 *
 * @example
 * ```ts
 * import type { Refusal } from "./wire.ts";
 * const refusal: Refusal = "busy";
 * ```
 */
export type Refusal = typeof REFUSED_BUSY | typeof REFUSED_MISSING;

/**
 * The `announce` of a file: its manifest, signed by `signature`, held by `holder` (reachable at
 * `address`, when known), to travel `hops` more hops.
 *
 * @example
 * ```ts
 * import { announcement } from "./wire.ts";
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const signature = { origin: "cd".repeat(16), key: new Uint8Array(32), sig: new Uint8Array(64) };
 * const body = announcement(manifest, signature, "ef".repeat(16), "10.0.0.7:7000", 16);
 * console.log(body.t, body.name, body.address); // announce a.txt 10.0.0.7:7000
 * ```
 */
export function announcement(
  manifest: Manifest,
  signature: ManifestSignature,
  holder: string,
  address: string | null,
  hops: number,
): Announcement {
  return {
    t: "announce",
    name: manifest.name,
    size: manifest.size,
    pieceSize: manifest.pieceSize,
    pieces: manifest.pieces,
    ...(manifest.files ? { files: manifest.files } : {}),
    root: manifest.root,
    origin: signature.origin,
    key: signature.key,
    sig: signature.sig,
    holder,
    ...(address ? { address } : {}),
    hops,
  };
}

/**
 * The manifest and signature an `announce` carries, unchecked: see `checkManifest` and
 * `checkManifestSignature`.
 *
 * @example
 * ```ts
 * import { announcement, readAnnouncement } from "./wire.ts";
 * const manifest = { name: "a.txt", size: 1, pieceSize: 16384, pieces: new Uint8Array(32), root: "ab".repeat(32) };
 * const signature = { origin: "cd".repeat(16), key: new Uint8Array(32), sig: new Uint8Array(64) };
 * const read = readAnnouncement(announcement(manifest, signature, "ef".repeat(16), null, 1));
 * console.log(read.manifest.name, read.signature.origin === signature.origin); // a.txt true
 * ```
 */
export function readAnnouncement(
  body: Announcement,
): { manifest: Manifest; signature: ManifestSignature } {
  return {
    manifest: {
      name: body.name,
      size: body.size,
      pieceSize: body.pieceSize,
      pieces: body.pieces,
      root: body.root,
      ...(body.files ? { files: body.files } : {}),
    },
    signature: { origin: body.origin, key: body.key, sig: body.sig },
  };
}

/**
 * The `file` of a `piece` message: what the receiving worker writes its bytes by. For a file, its
 * root; for a folder, its root, `/` and the number of the folder's file the piece is of (from 0,
 * in decimal), whose `offset` is then an offset in that file. Each file of a folder is written
 * into a file of its own, so each needs a key of its own.
 *
 * @example
 * ```ts
 * import { pieceKey } from "./wire.ts";
 * console.log(pieceKey("ab".repeat(32), null) === "ab".repeat(32), pieceKey("ab".repeat(32), 7).slice(64)); // true "/7"
 * ```
 */
export function pieceKey(root: string, entry: number | null): string {
  return entry === null ? root : `${root}/${entry}`;
}

/**
 * The root and the number of the folder's file a `piece`'s `file` names (0 for a file), or null
 * when it is not a key {@linkcode pieceKey} makes.
 *
 * @example
 * ```ts
 * import { readPieceKey } from "./wire.ts";
 * console.log(readPieceKey(`${"ab".repeat(32)}/7`)?.entry, readPieceKey("junk")); // 7 null
 * ```
 */
export function readPieceKey(key: string): { root: string; entry: number } | null {
  const match = /^([0-9a-f]{64})(?:\/(0|[1-9][0-9]*))?$/.exec(key);
  if (!match) return null;
  return { root: match[1], entry: match[2] === undefined ? 0 : Number(match[2]) };
}
