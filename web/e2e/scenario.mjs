// The scenario of issue #9 in a real browser against a real `atrium serve`: sign up → create an
// agent → run a task with `steps` and watch it reach `succeeded` without reloading → invite a
// second user → that user (role USER) logs in and cannot create agents → the admin creates an API
// key and revokes it → the audit page shows these actions. Screenshots of the main screens go to
// the screenshot directory (`docs/screenshots` refreshes the README's).
//
//   node e2e/scenario.mjs <atrium binary> [screenshot dir]
import { eventually, expect, nav, run } from './harness.mjs';

await run(async ({ base, newPage, step, shot }) => {
  const page = await newPage();
  const progress = []; // progress messages the admin's page received over /ws
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      try {
        const m = JSON.parse(String(payload));
        if (m.type === 'task-status' && m.progress) progress.push(m.progress);
      } catch {
        // not JSON
      }
    }),
  );

  const adminEmail = 'ada@example.com';
  const adminPassword = 'correct horse battery';
  const userEmail = 'bob@example.com';
  const userPassword = 'another long password';
  let agentUrl;
  let invitationLink;
  let apiKey;

  await step('the console is served with a strict CSP and loads', async () => {
    const res = await page.goto('/login');
    expect(res.status() === 200, `GET /login answered ${res.status()}`);
    const csp = res.headers()['content-security-policy'] ?? '';
    expect(csp.includes("script-src 'self'"), `no strict CSP on index.html: "${csp}"`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(page, 'login');
  });

  await step('sign up creates an account and an organization', async () => {
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Your name').fill('Ada Admin');
    await page.getByLabel('Email').fill(adminEmail);
    await page.getByLabel('Password').fill('short');
    await page.getByLabel('Organization name').fill('Acme Robotics');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText('Use at least 10 characters.').waitFor(); // checked before sending
    await shot(page, 'signup');
    await page.getByLabel('Password').fill(adminPassword);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Acme Robotics' }).waitFor();
    await page.getByText('TENANT_ADMIN').waitFor();
  });

  await step('create an agent', async () => {
    await nav(page, 'Agents').click();
    await page.getByText('No agents yet').waitFor();
    await page.getByRole('button', { name: 'New agent' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Echo assistant');
    await dialog.getByLabel('Description').fill('Returns what it is given');
    await dialog.getByLabel('Executor').selectOption('echo');
    await shot(page, 'agent-create');
    await dialog.getByRole('button', { name: 'Create agent' }).click();
    await page.getByRole('heading', { name: 'Echo assistant' }).waitFor();
    agentUrl = page.url();
    expect(/\/agents\/[^/]+$/.test(new URL(agentUrl).pathname), `unexpected agent URL ${agentUrl}`);
  });

  await step('run a task with steps and watch it reach succeeded live, without reloading', async () => {
    progress.length = 0;
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    await page.getByLabel('Input (JSON object)').fill('{"message": "hello from the browser", "steps": 5}');
    await page.getByRole('button', { name: 'Run task' }).click();
    const status = page.getByTestId('task-status');
    await status.waitFor();
    await eventually(async () => (await status.textContent()) === 'succeeded', 'the task to succeed', 30_000);
    expect(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
    await page.getByLabel('Task output').getByText('hello from the browser').waitFor();
    await eventually(() => progress.length === 5, `5 progress messages (got ${JSON.stringify(progress)})`, 5_000);
    expect(progress.at(-1).step === 5 && progress.at(-1).of === 5, `last progress ${JSON.stringify(progress.at(-1))}`);
    await shot(page, 'agent-task-succeeded');
  });

  await step('the tasks list shows the task', async () => {
    await nav(page, 'Tasks').click();
    await page.getByRole('cell', { name: 'succeeded' }).first().waitFor();
    await shot(page, 'tasks');
    await nav(page, 'Dashboard').click();
    await page.getByRole('heading', { name: 'Recent tasks' }).waitFor();
    await shot(page, 'dashboard');
  });

  await step('invite a second user as USER and show the link once', async () => {
    await nav(page, 'Members').click();
    await page.getByLabel('Email', { exact: true }).fill(userEmail);
    await page.getByLabel('Role', { exact: true }).selectOption('USER');
    await page.getByRole('button', { name: 'Add or invite' }).click();
    const link = page.getByLabel(`Invitation link for ${userEmail} (role USER)`);
    await link.waitFor();
    invitationLink = await link.inputValue();
    expect(invitationLink.startsWith(`${base}/invitations/accept?token=`), `invitation link ${invitationLink}`);
    await shot(page, 'members');
    await nav(page, 'Roles').click();
    await page.getByRole('cell', { name: /TENANT_ADMIN/ }).waitFor();
    await shot(page, 'roles');
  });

  await step('the invited user accepts, logs in, and cannot create agents', async () => {
    const p2 = await newPage();
    await p2.goto(invitationLink);
    await p2.getByRole('heading', { name: 'Join your team' }).waitFor();
    expect(!p2.url().includes('token='), 'the invitation token stayed in the address bar');
    await p2.getByLabel('Your name').fill('Bob User');
    await p2.getByLabel('Choose a password').fill(userPassword);
    await p2.getByRole('button', { name: 'Accept invitation' }).click();
    await p2.getByRole('heading', { name: 'Acme Robotics' }).waitFor();
    await p2.getByRole('button', { name: 'Sign out' }).click();
    await p2.getByText('You have signed out.').waitFor();
    await p2.getByLabel('Email').fill(userEmail);
    await p2.getByLabel('Password').fill(userPassword);
    await p2.getByRole('button', { name: 'Sign in' }).click();
    await p2.getByRole('heading', { name: 'Acme Robotics' }).waitFor();
    await p2.getByText('USER', { exact: false }).first().waitFor();
    await nav(p2, 'Agents').click();
    await p2.getByRole('link', { name: 'Echo assistant' }).waitFor();
    await p2.getByText('Your role cannot create agents.').waitFor();
    expect((await p2.getByRole('button', { name: 'New agent' }).count()) === 0, 'USER sees "New agent"');
    expect((await nav(p2, 'API keys').count()) === 0, 'USER sees the API keys section');
    await p2.getByRole('link', { name: 'Echo assistant' }).click();
    await p2.getByRole('button', { name: 'Run task' }).waitFor(); // USER may run tasks
    expect((await p2.getByRole('button', { name: 'Edit' }).count()) === 0, 'USER may edit the agent');
    await shot(p2, 'user-agent');
    // The server is the authority: the request the hidden button would send is refused.
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: userEmail, password: userPassword }),
    });
    expect(login.status === 200, `USER login over the API answered ${login.status}`);
    const { access_token } = await login.json();
    const create = await fetch(`${base}/api/agents`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access_token}` },
      body: JSON.stringify({ name: 'Not allowed', executor: 'echo' }),
    });
    expect(create.status === 403, `POST /api/agents as USER answered ${create.status}`);
    await p2.context().close();
  });

  await step('the admin creates an API key, sees it once, and revokes it', async () => {
    await nav(page, 'API keys').click();
    await page.getByText('No API keys').waitFor();
    await page.getByRole('button', { name: 'New API key' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('CI pipeline');
    await dialog.getByRole('checkbox', { name: /^agents:read/ }).check();
    await dialog.getByRole('checkbox', { name: /^tasks:read/ }).check();
    expect(await dialog.getByRole('checkbox', { name: /^org:manage/ }).isDisabled(), 'org:manage is grantable by a TENANT_ADMIN');
    await dialog.getByRole('button', { name: 'Create key' }).click();
    const key = page.getByLabel('Your new API key');
    await key.waitFor();
    apiKey = await key.inputValue();
    expect(apiKey.startsWith('atr_'), `API key ${apiKey.slice(0, 6)}…`);
    await shot(page, 'api-keys');
    const before = await fetch(`${base}/api/agents`, { headers: { Authorization: `Bearer ${apiKey}` } });
    expect(before.status === 200, `the new key answered ${before.status}`);
    await page.getByRole('button', { name: 'Revoke CI pipeline' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('No API keys').waitFor();
    expect((await page.getByLabel('Your new API key').count()) === 0, 'the revoked key is still shown');
    await eventually(
      async () => (await fetch(`${base}/api/agents`, { headers: { Authorization: `Bearer ${apiKey}` } })).status === 401,
      'the revoked key to be refused',
      5_000,
    );
  });

  await step('the audit log shows these actions', async () => {
    await nav(page, 'Audit log').click();
    for (const action of ['auth.signup', 'agent.create', 'task.create', 'member.invite', 'apikey.create', 'apikey.revoke']) {
      await page.getByRole('cell', { name: action, exact: true }).first().waitFor();
    }
    await shot(page, 'audit');
    await page.getByLabel('Action').selectOption('apikey.revoke');
    const rows = page.getByRole('table', { name: 'Audit log' }).getByRole('row');
    await eventually(async () => (await rows.count()) === 2, 'the filter to leave the header and one apikey.revoke row');
    await page.getByRole('cell', { name: 'apikey.revoke', exact: true }).waitFor();
  });

  await step('settings: read-only for a TENANT_ADMIN, who lacks org:manage', async () => {
    await nav(page, 'Settings').click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    await page.getByRole('definition').getByText('acme-robotics').waitFor();
    await page.getByText(/needs the org:manage permission/).waitFor();
    expect((await page.getByRole('button', { name: 'Save secret' }).count()) === 0, 'secrets offered without org:manage');
    await shot(page, 'settings');
  });

  await step('on a phone-sized screen the navigation folds behind a menu button', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('/tasks');
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(!(await nav(page, 'Agents').isVisible()), 'the sidebar is shown on a small screen');
    await page.getByRole('button', { name: 'Menu' }).click();
    await nav(page, 'Agents').waitFor();
    await shot(page, 'mobile-menu');
    await nav(page, 'Agents').click();
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
    expect(!(await nav(page, 'Agents').isVisible()), 'the menu stayed open after navigating');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('signing out returns to the login page and protects the console', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    await page.goto('/agents');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
});
