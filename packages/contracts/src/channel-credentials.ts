import * as grpc from '@grpc/grpc-js';

/** PEM contents for a client's TLS (structurally the platform's ClientTls). */
export interface ChannelTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
}

/**
 * A client channel's credentials and options: plain text without `tls`; otherwise TLS, checking the
 * server's certificate against `ca` (grpc-js's default roots when unset) and for `serverName` when
 * given (the host of the address otherwise), presenting `cert` when the server asks for one.
 */
export function channelCredentials(tls: ChannelTls | undefined): {
  credentials: grpc.ChannelCredentials;
  options: grpc.ChannelOptions;
} {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {} };
  const credentials = grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null);
  const options: grpc.ChannelOptions = tls.serverName
    ? { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName }
    : {};
  return { credentials, options };
}
