import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'graphql';

/** Where the committed copy of Tray's SDL lives (kept byte-identical to shared/tray/schema.graphql). */
export const SCHEMA_PATH = new URL('./schema.graphql', import.meta.url);

/** The Tray API surface as an executable graphql-js schema; resolvers come in through `rootValue`. */
export const traySchema: GraphQLSchema = buildSchema(readFileSync(SCHEMA_PATH, 'utf8'));
