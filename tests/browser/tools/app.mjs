// Starts the app for a browser test file that needs its own variables (the suite's shared app,
// started by tests/e2e/tests/browser.rs, has none of them): the bundled test host by default,
// real `spin up` when LIVECHAT_TEST_RUNTIME=spin. Resolves once the app answers; `stop()`
// ends it and removes its data.

import http from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startApp({ name, variables: own }) {
  // Every browser test talks from 127.0.0.1: the request-rate limits stay out of the way
  // (tests/e2e/tests/limits.rs tests them).
  const variables = {
    rate_limit_ip_per_minute: '1000000',
    rate_limit_visitor_per_minute: '1000000',
    rate_limit_operator_per_minute: '1000000',
    ...own,
  };
  const data = await mkdtemp(join(tmpdir(), `livechat-${name}-`));
  let child;
  let base = null;
  let output = '';
  if (process.env.LIVECHAT_TEST_RUNTIME === 'spin') {
    const port = await freePort();
    const env = { ...process.env };
    for (const [key, value] of Object.entries(variables)) env[`SPIN_VARIABLE_${key.toUpperCase()}`] = value;
    child = spawn('spin', ['up', '--listen', `127.0.0.1:${port}`, '--state-dir', data], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    base = `http://127.0.0.1:${port}`;
  } else {
    const host = process.env.LIVECHAT_TEST_HOST || join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'host/spin-test-host');
    if (!existsSync(host)) {
      throw new Error(`${host} is missing: build it with \`cargo build --profile host -p spin-test-host\` (tests/run-all's cargo test does)`);
    }
    const args = ['up', '--manifest', join(ROOT, 'spin.toml'), '--listen', '127.0.0.1:0', '--data-dir', data];
    for (const [key, value] of Object.entries(variables)) args.push('--var', `${key}=${value}`);
    child = spawn(host, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the app stopped (${child.exitCode}):\n${output}`);
    if (!base) {
      const match = output.match(/Serving (http:\/\/[^\s]+)/);
      if (match) base = match[1];
    }
    if (base) {
      try {
        const response = await fetch(`${base}/api/widget/config`);
        if (response.ok) break;
      } catch { /* not listening yet */ }
    }
    if (Date.now() > deadline) throw new Error(`the app did not answer within 120 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    base,
    log: () => output,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => {
        if (child.exitCode !== null) resolve();
        else child.once('exit', resolve);
      });
      await rm(data, { recursive: true, force: true });
    },
  };
}
