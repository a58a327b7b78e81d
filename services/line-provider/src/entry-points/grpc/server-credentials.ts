import * as grpc from '@grpc/grpc-js';
import type { ServerTls } from '../../config.js';

/**
 * Plain text without TLS settings; otherwise TLS with the configured certificate. With a client CA the
 * server asks every client for a certificate and refuses the handshake of one without a certificate
 * signed by that CA (mutual TLS).
 */
export function serverCredentials(tls: ServerTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(
    tls.ca ?? null,
    [{ cert_chain: tls.cert, private_key: tls.key }],
    tls.ca !== undefined,
  );
}
