// TLS for amqps:// URLs: the certificates are named by file path (a JSON config cannot hold their bytes), from the
// `tls` option, else AMQP_CACERT / AMQP_CERT / AMQP_KEY, else the config's `eventBusLogger.tls`; they are read here
// into every connection's socket options, over whatever Rascal's own `socketOptions` said. Node verifies the
// server's certificate and host name by default; this file never turns that off. It also words a failed handshake.
import { readFile } from 'node:fs/promises';
import { configError, describeError, describeValue, maskUrl } from './errors.js';
import { isRecord } from './event-data.js';

/** Certificates as file paths (PEM). */
export interface TlsFiles {
  /** The CA certificate(s) that sign the broker's certificate. @default Node's bundled CAs */
  caFile?: string;
  /** This client's certificate, for a broker that asks for one (mutual TLS). */
  certFile?: string;
  /** The private key of `certFile`. */
  keyFile?: string;
}

const FILES = { caFile: ['ca', 'AMQP_CACERT'], certFile: ['cert', 'AMQP_CERT'], keyFile: ['key', 'AMQP_KEY'] } as const;
type FileKey = keyof typeof FILES;

function checked(value: unknown, where: string): Partial<Record<FileKey, string>> {
  if (value === undefined) return {};
  if (!isRecord(value)) throw configError(`Expected ${where} to be an object { caFile, certFile, keyFile } of file paths, got ${describeValue(value)}`);
  for (const [key, file] of Object.entries(value)) {
    if (!(key in FILES)) throw configError(`Unknown key \`${key}\` in ${where}; expected caFile, certFile or keyFile`);
    if (typeof file !== 'string' || file === '') throw configError(`Expected ${where}.${key} to be the path of a PEM file, got ${describeValue(file)}`);
  }
  return value as Partial<Record<FileKey, string>>;
}

/**
 * The socket options TLS adds to each connection: `ca`, `cert`, `key` read from their files (the option first,
 * then the environment, then the config's `eventBusLogger.tls`), or undefined when none is given. Throws code
 * `CONFIG` for a file that cannot be read, a key without its certificate, or TLS files with a plain amqp:// URL
 * (the connection would not be encrypted: it is never silently downgraded).
 */
export async function tlsSocketOptions(option: unknown, fromConfig: unknown, source: string, urls: string[]): Promise<Record<string, string> | undefined> {
  const given = checked(option, '`tls`');
  const configured = checked(fromConfig, `\`eventBusLogger.tls\` in ${source}`);
  const socketOptions: Record<string, string> = {};
  for (const [key, [socketKey, variable]] of Object.entries(FILES) as Array<[FileKey, readonly [string, string]]>) {
    const env = process.env[variable] || undefined;
    const file = given[key] ?? env ?? configured[key];
    if (file === undefined) continue;
    const from = given[key] !== undefined ? `tls.${key}` : env !== undefined ? variable : `eventBusLogger.tls.${key}`;
    try {
      socketOptions[socketKey] = await readFile(file, 'utf8');
    } catch (error) {
      throw configError(`Cannot read ${from} ${file}: ${describeError(error)}; expected a PEM file`);
    }
  }
  if (Object.keys(socketOptions).length === 0) return undefined;
  if ((socketOptions.key === undefined) !== (socketOptions.cert === undefined)) {
    throw configError('A TLS client certificate needs both certFile and keyFile (AMQP_CERT and AMQP_KEY, --cert and --key); only one was given');
  }
  const plain = urls.find((url) => !url.startsWith('amqps://'));
  if (plain !== undefined) {
    throw configError(`TLS certificates are given but ${maskUrl(plain)} is a plain amqp:// URL, which would not use them; use amqps:// (the TLS port, 5671 by default)`);
  }
  return socketOptions;
}

// Node's codes for a server certificate that fails verification, worded for the user.
const VERIFY_FAILURES: Array<[RegExp, string]> = [
  [/CERT_HAS_EXPIRED|certificate has expired/, "the broker's certificate has expired"],
  [/CERT_NOT_YET_VALID|certificate is not yet valid/, "the broker's certificate is not valid yet"],
  [/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames|Hostname\/IP does not match/, "the broker's certificate is for another host name than the URL's"],
  [/SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|self[- ]signed certificate|unable to verify the first certificate|unable to get local issuer certificate/, "the broker's certificate is not signed by a trusted CA (check caFile, --cacert, AMQP_CACERT)"],
  [/certificate required|alert number 116|handshake failure|alert number 40|bad certificate|alert number 42|unknown ca|alert number 48/, 'the broker refused the TLS handshake: it wants a client certificate it trusts (certFile and keyFile, --cert and --key)'],
  [/wrong version number|packet length too long|WRONG_VERSION_NUMBER/, 'the port does not speak TLS (is it the plain AMQP port?)'],
];

/** What a failed TLS handshake means, or undefined when `reason` is not one. */
export function tlsFailure(reason: string): string | undefined {
  for (const [pattern, meaning] of VERIFY_FAILURES) if (pattern.test(reason)) return `TLS: ${meaning}`;
  return undefined;
}
