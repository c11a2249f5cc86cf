import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** What a local receiver got: one entry per request, in order. */
export interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  json: Record<string, unknown>;
  at: number;
  /** The status answered (undefined while hung). */
  status?: number;
}

export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Never answer (a hung receiver): the sender's timeout must end the exchange. */
  hang?: boolean;
}

export interface HttpReceiver {
  url: string;
  received: Received[];
  /** Answers for the next requests, in order; `fallback` after them. */
  answers: Answer[];
  fallback: Answer;
  close(): Promise<void>;
}

/**
 * A Slack incoming webhook as Slack answers one (api.slack.com/messaging/webhooks): 200 `ok`
 * for a JSON body with `text` or `blocks`, 400 `invalid_payload` for anything else; other
 * answers (403 invalid_token, 404 no_service, 410 channel_is_archived, 429 with Retry-After,
 * 500) are queued by the test.
 */
export function slackReceiver(port = 0): Promise<HttpReceiver> {
  return httpReceiver((request, body) => {
    try {
      const json = JSON.parse(body) as Record<string, unknown>;
      if (request.headers['content-type'] !== 'application/json' || (typeof json.text !== 'string' && !Array.isArray(json.blocks))) return { status: 400, body: 'invalid_payload' };
      return undefined;
    } catch {
      return { status: 400, body: 'invalid_payload' };
    }
  }, { status: 200, body: 'ok' }, port);
}

/** A generic webhook receiver that checks each request's HMAC signature (the one it would refuse with 401). */
export function webhookReceiver(secret: string): Promise<HttpReceiver & { verified: boolean[] }> {
  const verified: boolean[] = [];
  return httpReceiver((request, body) => {
    const timestamp = String(request.headers['x-pipeline-timestamp'] ?? '');
    const given = String(request.headers['x-pipeline-signature'] ?? '');
    const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
    const ok = given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
    verified.push(ok);
    return ok ? undefined : { status: 401, body: 'bad signature' };
  }, { status: 204 }).then((receiver) => Object.assign(receiver, { verified }));
}

async function httpReceiver(check: (request: IncomingMessage, body: string) => Answer | undefined, fallback: Answer, port = 0): Promise<HttpReceiver> {
  const received: Received[] = [];
  const receiver = { received, answers: [] as Answer[], fallback, url: '', close: async () => undefined } as HttpReceiver;
  const hung = new Set<ServerResponse>();
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(body) as Record<string, unknown>;
      } catch {
        // kept as text
      }
      const entry: Received = { headers: request.headers, body, json, at: Date.now() };
      received.push(entry);
      const answer = check(request, body) ?? receiver.answers.shift() ?? receiver.fallback;
      if (answer.hang) return void hung.add(response);
      entry.status = answer.status;
      response.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers });
      response.end(answer.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXXsecretpath1234`;
  receiver.close = async () => {
    for (const response of hung) response.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return receiver;
}

/** A port nothing listens on (yet): connections to it are refused. */
export async function closedPort(): Promise<{ port: number; url: string }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return { port, url: `http://127.0.0.1:${port}/services/T000/B000/XXXXsecretpath1234` };
}

export interface ReceivedMail {
  from: string | undefined;
  to: string[];
  secure: boolean;
  user: string | undefined;
  raw: string;
  subject: string;
  text: string;
  html: string;
  headers: Map<string, string>;
}

/**
 * A real SMTP server (smtp-server) requiring STARTTLS and AUTH PLAIN/LOGIN as `user`/`pass`,
 * with smtp-server's built-in test certificate. Each message is parsed into its subject,
 * recipients and text and HTML parts.
 */
export async function smtpReceiver(credentials = { user: 'notifier', pass: 'smtp-password-1' }): Promise<{ port: number; url: string; messages: ReceivedMail[]; close(): Promise<void> }> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === credentials.user && auth.password === credentials.pass) return callback(null, { user: auth.username });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const parsed = parseMime(raw);
        messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : undefined,
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: typeof session.user === 'string' ? session.user : undefined,
          raw,
          ...parsed,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    // The built-in certificate is self-signed: trusted here through the URL's tls.* options, as an operator would for a private CA.
    url: `smtp://${credentials.user}:${credentials.pass}@127.0.0.1:${port}/?requireTLS=true&tls.rejectUnauthorized=false`,
    messages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Enough MIME to read what nodemailer writes: headers, multipart bodies, quoted-printable and base64 parts, encoded words. */
export function parseMime(raw: string): { subject: string; text: string; html: string; headers: Map<string, string> } {
  const { headers, body } = splitPart(raw);
  const parts: { type: string; content: string }[] = [];
  collect(headers, body, parts);
  return {
    subject: decodeWords(headers.get('subject') ?? ''),
    text: parts.find((p) => p.type.startsWith('text/plain'))?.content ?? '',
    html: parts.find((p) => p.type.startsWith('text/html'))?.content ?? '',
    headers,
  };
}

function splitPart(raw: string): { headers: Map<string, string>; body: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at + 4);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body };
}

function collect(headers: Map<string, string>, body: string, parts: { type: string; content: string }[]): void {
  const type = (headers.get('content-type') ?? 'text/plain').toLowerCase();
  const boundary = /boundary="?([^";]+)"?/i.exec(headers.get('content-type') ?? '')?.[1];
  if (type.startsWith('multipart/') && boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const part = splitPart(chunk.replace(/^\r\n/, ''));
      collect(part.headers, part.body, parts);
    }
    return;
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const content = encoding === 'base64' ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8') : encoding === 'quoted-printable' ? decodeQuotedPrintable(body) : body;
  parts.push({ type, content: content.replace(/\r\n$/, '') });
}

function decodeQuotedPrintable(text: string): string {
  const bytes = Buffer.from(text.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  return bytes.toString('utf8');
}

function decodeWords(text: string): string {
  return text.replace(/=\?utf-8\?([QB])\?([^?]*)\?=\s*/gi, (_m, mode: string, data: string) =>
    mode.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}
