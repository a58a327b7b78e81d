import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from './load-config.js';

/** PEM contents for one side of a TLS connection. */
export interface TlsMaterial {
  /** CA certificates the peer's certificate must chain to. */
  ca?: Buffer;
  /** This side's certificate chain, and its private key (always both or neither). */
  cert?: Buffer;
  key?: Buffer;
}

/** A file setting: its name (for errors) and its value (the path), which may be unset. */
export interface FileSetting {
  name: string;
  path: string | undefined;
}

/**
 * Reads the PEM files TLS settings name and checks that they make a TLS context (each one parses, the
 * key belongs to the certificate), so that a bad file stops the process at start-up with a
 * ConfigError naming its setting rather than failing on the first connection. A certificate without
 * its key, or a key without its certificate, is an error too.
 */
export function readTlsFiles(files: {
  ca?: FileSetting;
  cert?: FileSetting;
  key?: FileSetting;
}): TlsMaterial {
  const problems: string[] = [];
  const read = (setting: FileSetting | undefined): Buffer | undefined => {
    if (setting?.path === undefined) return undefined;
    try {
      return readFileSync(setting.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      problems.push(`${setting.name}: cannot read ${JSON.stringify(setting.path)} (${code})`);
      return undefined;
    }
  };
  const material: TlsMaterial = { ca: read(files.ca), cert: read(files.cert), key: read(files.key) };
  if (files.cert && files.key && (files.cert.path === undefined) !== (files.key.path === undefined)) {
    const [set, unset] = files.cert.path === undefined ? [files.key, files.cert] : [files.cert, files.key];
    problems.push(`${unset.name}: required with ${set.name} (it is not set)`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const check = (names: string, build: () => unknown) => {
    try {
      build();
    } catch (error) {
      problems.push(
        `${names}: not usable for TLS (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  };
  // createSecureContext takes a CA file without a certificate in it; X509Certificate reads the first.
  if (material.ca) check(files.ca!.name, () => new X509Certificate(material.ca!));
  if (material.cert && material.key) {
    check(`${files.cert!.name}, ${files.key!.name}`, () =>
      createSecureContext({ cert: material.cert, key: material.key }),
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return material;
}

/** TLS for a gRPC client: what {@link readTlsFiles} returns, and the name the server must carry. */
export interface ClientTls extends TlsMaterial {
  /** Checked against the server's certificate instead of the host of the address. */
  serverName?: string;
}

/** The TLS settings of every client of line-provider's gRPC server (score-maker, the admin CLI, the probe). */
export interface LineProviderClientTlsSettings {
  LINE_PROVIDER_TLS: boolean;
  LINE_PROVIDER_TLS_CA_FILE?: string;
  LINE_PROVIDER_TLS_SERVER_NAME?: string;
  LINE_PROVIDER_CLIENT_CERT_FILE?: string;
  LINE_PROVIDER_CLIENT_KEY_FILE?: string;
}

/**
 * undefined (plain text) unless LINE_PROVIDER_TLS is true or any other of the settings is set: then
 * TLS, checking the server's certificate against LINE_PROVIDER_TLS_CA_FILE (or the default roots), with
 * a client certificate for mutual TLS when one is given. Throws a ConfigError as readTlsFiles does.
 */
export function lineProviderClientTls(config: LineProviderClientTlsSettings): ClientTls | undefined {
  const on =
    config.LINE_PROVIDER_TLS ||
    [
      config.LINE_PROVIDER_TLS_CA_FILE,
      config.LINE_PROVIDER_TLS_SERVER_NAME,
      config.LINE_PROVIDER_CLIENT_CERT_FILE,
      config.LINE_PROVIDER_CLIENT_KEY_FILE,
    ].some((value) => value !== undefined);
  if (!on) return undefined;
  const material = readTlsFiles({
    ca: { name: 'LINE_PROVIDER_TLS_CA_FILE', path: config.LINE_PROVIDER_TLS_CA_FILE },
    cert: { name: 'LINE_PROVIDER_CLIENT_CERT_FILE', path: config.LINE_PROVIDER_CLIENT_CERT_FILE },
    key: { name: 'LINE_PROVIDER_CLIENT_KEY_FILE', path: config.LINE_PROVIDER_CLIENT_KEY_FILE },
  });
  return { ...material, serverName: config.LINE_PROVIDER_TLS_SERVER_NAME };
}
