// The scene both admin-API edge suites run: one distribution (site.test, two workers) from a store, and what its viewer port presents.
import { connect } from "node:tls";

/** The config applied to the store: two workers, so that a change must reach each. */
export const config = (originUrl: string) => `dataDir: ./data
workers: 2
listen: { host: 127.0.0.1, https: 0, http: off }
distributions:
  - id: site
    aliases: [site.test]
    origins: [{ id: app, url: "${originUrl}" }]
`;

/** The serial of the viewer certificate the edge presents for site.test, on a fresh connection. */
export function presentedSerial(port: number, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "site.test", ca: caPem, ALPNProtocols: ["http/1.1"] }, () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase().replace(/^(00)+(?=.)/, "");
      socket.destroy();
      resolve(serial);
    });
    socket.on("error", reject);
  });
}
