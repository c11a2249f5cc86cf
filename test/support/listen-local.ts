import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A test server on a free port of 127.0.0.1: its base URL, and a close that ends the keep-alive connections clients hold. */
export async function listenLocal(server: Server): Promise<{ url: string; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
