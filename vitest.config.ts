import { defineConfig } from 'vitest/config';

// Unit tests sit next to the logic they specify (src/**/*.test.ts) and never touch the network;
// integration tests under tests/ talk to the real NATS, Redis and ClickHouse that scripts/services.sh starts.
// Files run one at a time: the integration tests share those services and the wall's ports. A unit test has a minute:
// the model fits and simulations take seconds of CPU, and a 2-core machine under load must not turn that into a
// failure (no test asserts on time; a hung one still fails).
export default defineConfig({
  test: {
    fileParallelism: false,
    projects: [
      { test: { name: 'unit', include: ['src/**/*.test.ts'], environment: 'node', testTimeout: 60_000, hookTimeout: 60_000 } },
      { test: { name: 'integration', include: ['tests/**/*.test.ts'], environment: 'node', testTimeout: 120_000, hookTimeout: 120_000 } },
    ],
  },
});
