/**
 * How export columns are named in the staged view. Billing exports spell one column many ways
 * (legacy CUR `lineItem/UnblendedCost`, CUR 2.0 `line_item_unblended_cost`; Azure EA
 * `CostInBillingCurrency`, MCA `costInBillingCurrency`; GCP CSV `service.description`, GCP
 * JSON `service: {description}`), so every native column is renamed the way AWS's Athena
 * integration does it: an underscore before each capital, every other non-alphanumeric
 * character an underscore, lowercase. That makes the legacy and 2.0 CUR names identical
 * (`reservation/ReservationARN` -> `reservation_reservation_a_r_n`) and EA and MCA names too.
 */
export function canonicalName(name: string): string {
  const snake = name
    .replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (snake === '') return 'column';
  return /^[0-9]/.test(snake) ? `c_${snake}` : snake;
}

/** A DuckDB identifier in double quotes, for names that came from a file. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A column type as DuckDB's DESCRIBE prints it: STRUCT fields are parsed, everything else is kept as text. */
export type ColumnType = { kind: 'struct'; fields: { name: string; type: ColumnType }[] } | { kind: 'nested'; text: string } | { kind: 'scalar'; text: string };

/**
 * Parses `STRUCT(a INTEGER, "b c" STRUCT(d VARCHAR)[], e MAP(VARCHAR, VARCHAR))`. Lists and maps
 * are `nested` (stored as JSON text), structs are flattened into columns.
 */
export function parseColumnType(text: string): ColumnType {
  const trimmed = text.trim();
  if (/\[\d*\]$/.test(trimmed) || /^MAP\(/i.test(trimmed) || /^UNION\(/i.test(trimmed)) return { kind: 'nested', text: trimmed };
  const struct = /^STRUCT\((.*)\)$/is.exec(trimmed);
  if (!struct) return { kind: 'scalar', text: trimmed };
  const fields: { name: string; type: ColumnType }[] = [];
  for (const part of splitTopLevel(struct[1] as string)) {
    const match = /^\s*("(?:[^"]|"")*"|[^\s"]+)\s+(.*)$/s.exec(part);
    if (!match) throw new Error(`cannot parse struct field ${JSON.stringify(part)} in ${text}`);
    const rawName = match[1] as string;
    const name = rawName.startsWith('"') ? rawName.slice(1, -1).replace(/""/g, '"') : rawName;
    fields.push({ name, type: parseColumnType(match[2] as string) });
  }
  return { kind: 'struct', fields };
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    if (quoted) continue;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.filter((part) => part.trim() !== '');
}
