import { Ajv, type Options, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { isIsoDate } from '../shared/clock.ts';
import { isUuid } from '../shared/ids.ts';

const OPTIONS: Options = { useDefaults: true, removeAdditional: false, allErrors: false, addUsedSchema: false };

/**
 * Request validation with two validators. Path and query values arrive as text, so they are
 * coerced to the integer or boolean their schema declares; a JSON body is never coerced: with
 * Fastify's default (coerceTypes for every part) `PUT credentials {"secret": 123}` stored the
 * secret "123" (issue 10, item 12).
 */
export function requestValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const text = withFormats(new Ajv({ ...OPTIONS, coerceTypes: 'array' }));
  const json = withFormats(new Ajv({ ...OPTIONS, coerceTypes: false }));
  return ({ schema, httpPart }) => (httpPart === 'body' ? json.compile(schema as object) : finiteOnly(text.compile(schema as object)));
}

/**
 * Ajv coerces "Infinity" to Infinity and then passes it as an integer within any maximum
 * (ajv 8.20), so `?limit=Infinity` reached the database as a bigint and answered 500.
 */
function finiteOnly(validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown) => {
    if (!validate(data)) {
      checked.errors = validate.errors;
      return false;
    }
    const bad = Object.entries(typeof data === 'object' && data !== null ? data : {}).find(([, value]) => [value].flat().some((v) => typeof v === 'number' && !Number.isFinite(v)));
    checked.errors = bad ? [{ instancePath: `/${bad[0]}`, schemaPath: '#/finite', keyword: 'finite', params: {}, message: 'must be a finite number' }] : null;
    return !bad;
  }) as ValidateFunction;
  return checked;
}

/**
 * The formats request schemas use. A run id is the database's uuid text: ajv-formats' `uuid`
 * also takes `urn:uuid:...`, which PostgreSQL refuses with a 500.
 */
function withFormats(ajv: Ajv): Ajv {
  ajv.addFormat('uuid', (value: string) => isUuid(value));
  ajv.addFormat('date', (value: string) => isIsoDate(value));
  ajv.addFormat('date-time', (value: string) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) && !Number.isNaN(Date.parse(value)));
  return ajv;
}
