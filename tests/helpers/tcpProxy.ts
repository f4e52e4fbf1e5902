// A TCP proxy on a loopback port in front of a real service, which a test can cut (the service seems to vanish:
// open connections reset, new ones refused) and restore on the same port, without touching the service itself.
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far (to check that traffic really went through the proxy). */
  connections = 0;

  private constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    private boundPort: number,
  ) {}

  /** Listens on an ephemeral 127.0.0.1 port and forwards to target (default: ClickHouse's HTTP port). */
  static async start(targetPort = 8123, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort, 0);
    await proxy.listen();
    return proxy;
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  get isUp(): boolean {
    return this.server !== null;
  }

  /** Closes the listener and destroys every open connection, both sides. */
  async cut(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    if (this.server) return;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = createServer((inbound) => {
      this.connections++;
      const outbound = tcpConnect(this.targetPort, this.targetHost);
      for (const s of [inbound, outbound]) {
        this.sockets.add(s);
        s.on('close', () => {
          this.sockets.delete(s);
          // One side gone: the other goes too, as a real server's reset would.
          (s === inbound ? outbound : inbound).destroy();
        });
        s.on('error', () => s.destroy());
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as { port: number }).port;
    this.server = server;
  }
}
