/**
 * Workflow histories as proto3 JSON files (the format `temporal workflow show --output json` writes),
 * for the replay test and scripts/record-history.ts.
 *
 * Why not `historyToJSON`/`historyFromJSON` from @temporalio/common: in this install npm gave
 * @temporalio/common and @temporalio/proto two separate copies of protobufjs 8, and protobufjs'
 * JSON codec checks `type instanceof Type` against its own copy, so the SDK helpers throw
 * "type must be a Type". Here the codec is loaded from the copy @temporalio/proto itself resolves,
 * whatever the layout, which is the copy its message types were built with.
 */
import { createRequire } from 'node:module';
import type { temporal } from '@temporalio/proto';
import proto from '@temporalio/proto';
import { patchProtobufRoot } from '@temporalio/proto/lib/patch-protobuf-root.js';

type History = temporal.api.history.v1.IHistory;

interface ProtoType {
  readonly name: string;
}
interface ProtoJson {
  toJson(type: ProtoType, message: unknown): unknown;
  fromJson(type: ProtoType, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

const requireFromProto = createRequire(createRequire(import.meta.url).resolve('@temporalio/proto'));
const protojson = requireFromProto('protobufjs/ext/protojson') as ProtoJson;
const historyType = (
  patchProtobufRoot(proto as unknown as Record<string, unknown>) as unknown as {
    lookupType(name: string): ProtoType;
  }
).lookupType('temporal.api.history.v1.History');

/** A history as pretty proto3 JSON text. */
export function historyToJsonText(history: History): string {
  const message = proto.temporal.api.history.v1.History.fromObject(history as Record<string, unknown>);
  return JSON.stringify(protojson.toJson(historyType, message), null, 2);
}

/** Parses proto3 JSON text back into a History the replay worker takes as is. */
export function historyFromJsonText(text: string): History {
  return protojson.fromJson(historyType, JSON.parse(text), { ignoreUnknownFields: true }) as History;
}
