/**
 * JSON schemas are plain objects shared by request validation (Ajv, through fastify), response
 * serialization, and the OpenAPI document. A schema given a name here is emitted once under
 * `components/schemas/<name>` and referenced from every operation that uses it.
 */
export type JsonSchema = Record<string, unknown>;

const names = new Map<object, string>();

export function named<T extends JsonSchema>(name: string, schema: T): T {
  names.set(schema, name);
  return schema;
}

export function schemaName(schema: object): string | undefined {
  return names.get(schema);
}
