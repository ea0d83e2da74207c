import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'graphql';

/** The project's copy of Tray's SDL, byte for byte (test/emulator.test.ts compares it given TRAY_SCHEMA_SDL). */
export const SCHEMA_PATH = new URL('./schema.graphql', import.meta.url);

/** The Tray API surface as an executable graphql-js schema; resolvers come in through `rootValue`. */
export const traySchema: GraphQLSchema = buildSchema(readFileSync(SCHEMA_PATH, 'utf8'));
