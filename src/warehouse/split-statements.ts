/**
 * Splits a SQL script at top-level `;`, leaving those inside quotes and comments alone.
 * Procedures are scripts of several statements, and prepared statements take one at a time.
 */
export function splitStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  for (let i = 0; i < script.length; i++) {
    const char = script[i] as string;
    const next = script[i + 1];
    if (char === "'" || char === '"') {
      const end = closingQuote(script, i, char);
      current += script.slice(i, end + 1);
      i = end;
    } else if (char === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? script.length : end - 1;
    } else if (char === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end === -1 ? script.length : end + 1;
    } else if (char === ';') {
      statements.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  statements.push(current);
  return statements.map((statement) => statement.trim()).filter((statement) => statement.length > 0);
}

/** Index of the quote closing the one at `start`; a doubled quote is an escaped one. */
function closingQuote(text: string, start: number, quote: string): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) i++;
      else return i;
    }
  }
  return text.length - 1;
}
