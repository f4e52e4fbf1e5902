import { defineConfig } from 'vitest/config';

// Unit tests sit next to the logic they specify (src/**/*.test.ts) and never touch the network;
// integration tests under tests/ talk to the real NATS, Redis and ClickHouse that scripts/services.sh starts.
// Files run one at a time: the integration tests share those services and the wall's ports.
export default defineConfig({
  test: {
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], environment: 'node' } },
      { test: { name: 'integration', include: ['tests/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 120_000 } },
    ],
  },
});
