// Shared by the browser suites: a real `atrium serve` on a free port with a temporary data
// directory and the built console, headless Debian Chromium through playwright-core, and named
// steps that stop at the first failure and end with an "N passed, N failed" line.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const STEP_TIMEOUT = 20_000;

function serverEnv(dataDir, listen = '127.0.0.1:0') {
  return {
    ...process.env,
    ATRIUM_LISTEN: listen,
    ATRIUM_DATA_DIR: dataDir,
    ATRIUM_DATABASE_URL: `sqlite://${dataDir}/atrium.db`,
    ATRIUM_BROKER_URL: 'embedded',
    ATRIUM_WEB_ROOT: path.resolve(here, '..', 'dist'),
    ATRIUM_WORKERS: '2',
    ATRIUM_LOG_LEVEL: 'info',
    // Tests share the machine with compilers and other suites: sign-ins must not starve.
    ATRIUM_HASH_NICE: '0',
  };
}

function startServer(binary, dataDir, listen) {
  const child = spawn(binary, ['serve'], { env: serverEnv(dataDir, listen), stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const log = [];
  child.stderr.on('data', (d) => log.push(String(d)));
  const port = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`atrium serve did not start:\n${log.join('')}`)), 30_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      log.push(line + '\n');
      try {
        const entry = JSON.parse(line);
        if (entry.msg === 'listening' && entry.port) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      } catch {
        // not a log line
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`atrium serve exited with ${code}:\n${log.join('')}`));
    });
  });
  return { child, port, log, exited };
}

/** Stops a server with SIGTERM (its graceful shutdown), or SIGKILL after the step timeout. */
async function stopServer(server) {
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), STEP_TIMEOUT);
  await server.exited;
  clearTimeout(timer);
}

export function expect(cond, message) {
  if (!cond) throw new Error(message);
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually(fn, what, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A link of the sidebar's section navigation. */
export function nav(page, name) {
  return page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name, exact: true });
}

/** Runs another command of the binary against the server's database; resolves to its exit code. */
function runCommand(binary, dataDir, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { env: { ...serverEnv(dataDir), ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), STEP_TIMEOUT);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/**
 * Runs `scenario({ base, browser, newPage, step, shot, atrium, restartServer })` against a fresh
 * server and browser; exits the process with 0 only when every step passed and no page error or
 * CSP violation was seen. argv: <atrium binary> [screenshot dir].
 */
export async function run(scenario) {
  const binary = process.argv[2];
  if (!binary) {
    console.error(`usage: node ${path.basename(process.argv[1])} <atrium binary> [screenshot dir]`);
    process.exit(2);
  }
  const dataDir = mkdtempSync(path.join(tmpdir(), 'atrium-e2e-'));
  const shots = path.resolve(process.argv[3] ?? path.join(tmpdir(), 'atrium-e2e-screenshots'));
  mkdirSync(shots, { recursive: true });

  let passed = 0;
  let failed = 0;
  const step = async (name, fn) => {
    const started = Date.now();
    try {
      await fn();
      passed += 1;
      console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
    } catch (err) {
      failed += 1;
      console.log(`not ok - ${name}\n${String(err?.stack ?? err).replace(/^/gm, '  ')}`);
      throw err;
    }
  };

  let server = startServer(binary, dataDir);
  let browser;
  let exitCode = 0;
  try {
    const base = `http://127.0.0.1:${await server.port}`;
    browser = await chromium.launch({
      executablePath: process.env.ATRIUM_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    const problems = [];
    const newPage = async (viewport = { width: 1280, height: 800 }) => {
      const context = await browser.newContext({ baseURL: base, viewport });
      context.setDefaultTimeout(STEP_TIMEOUT);
      const page = await context.newPage();
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() === 'error' && /Content Security Policy|Refused to/.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
      });
      return page;
    };
    const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`) });
    const atrium = (args, env) => runCommand(binary, dataDir, args, env);
    // Stops the server, awaits `whileDown()`, and starts it again on the same port and data.
    const restartServer = async (whileDown = async () => {}) => {
      const port = await server.port;
      await stopServer(server);
      await whileDown();
      server = startServer(binary, dataDir, `127.0.0.1:${port}`);
      expect((await server.port) === port, 'the server came back on another port');
    };
    await scenario({ base, browser, newPage, step, shot, atrium, restartServer });
    await step('no page error and no CSP violation', async () => {
      expect(problems.length === 0, problems.join('\n'));
    });
  } catch (err) {
    exitCode = 1;
    if (failed === 0) console.log(`not ok - setup\n  ${String(err?.stack ?? err)}`);
    console.log(`--- server log (last lines)\n${server.log.slice(-40).join('')}`);
  } finally {
    await browser?.close().catch(() => {});
    await stopServer(server);
    rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
  }
  console.log(`screenshots: ${shots}`);
  console.log(`${passed} passed, ${failed || exitCode} failed`);
  process.exit(exitCode);
}
