import { inspect } from 'node:util';

/**
 * A secret value that does not print: JSON, string conversion, template literals and
 * util.inspect (console.log, pino) all give "[redacted]". Only `reveal()` returns the value,
 * at the one place it is sent to the provider.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
