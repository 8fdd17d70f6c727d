// The scenario of issue #9 in a real browser against a real `atrium serve`: sign up → create an
// agent → run a task with `steps` and watch it reach `succeeded` without reloading → invite a
// second user → that user (role USER) logs in and cannot create agents → the admin creates an API
// key and revokes it → the audit page shows these actions. Then the rest of the console against the
// same server: agents edited and deleted, a custom role from the permission catalog, a role change
// reaching the member's open console, a removed member's console returning to the sign-in page,
// creating and switching organizations, and a platform administrator setting a write-only secret.
// Screenshots of the main screens go to the screenshot directory (`make screenshots` writes the
// README's, docs/screenshots).
//
//   node e2e/scenario.mjs <atrium binary> [screenshot dir]
import { eventually, expect, nav, run } from './harness.mjs';

await run(async ({ base, newPage, step, shot, atrium, restartServer }) => {
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
  let bob; // the invited user's page, kept open to watch role changes and removal reach it

  /** Moves between two screens of `p` (each load asks the API) until `done()` holds. */
  const revisitUntil = (p, done, what) =>
    eventually(async () => {
      if (await done()) return true;
      const next = new URL(p.url()).pathname === '/agents' ? 'Dashboard' : 'Agents';
      await nav(p, next).click({ timeout: 2_000 });
      return done();
    }, what);

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
    await page.getByLabel('Status').selectOption('failed');
    await page.getByText('No tasks', { exact: true }).waitFor();
    await page.getByLabel('Status').selectOption('succeeded');
    await page.getByLabel('Agent').selectOption({ label: 'Echo assistant' });
    await page.getByRole('cell', { name: 'succeeded' }).first().waitFor();
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Agent').selectOption('');
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
    bob = p2;
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

  await step('an agent is edited and deleted', async () => {
    await nav(page, 'Agents').click();
    await page.getByRole('button', { name: 'New agent' }).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Scratch agent');
    await dialog.getByLabel('Config (JSON, optional)').fill('{"temperature": ');
    await dialog.getByRole('button', { name: 'Create agent' }).click();
    await dialog.getByText(/^This is not valid JSON/).waitFor(); // at the field, before sending
    await dialog.getByLabel('Config (JSON, optional)').fill('{"temperature": 0.2}');
    await dialog.getByRole('button', { name: 'Create agent' }).click();
    await dialog.getByText('temperature is not a setting of this executor', { exact: true }).waitFor(); // the server's, at the field
    await dialog.getByLabel('Config (JSON, optional)').fill('');
    await dialog.getByRole('button', { name: 'Create agent' }).click();
    await page.getByRole('heading', { name: 'Scratch agent' }).waitFor();
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Scratch agent v2');
    await dialog.getByLabel('Description').fill('Edited in the browser');
    await dialog.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { name: 'Scratch agent v2' }).waitFor();
    await page.getByText('Edited in the browser').waitFor();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete agent' }).click();
    await page.getByRole('heading', { name: 'Agents', exact: true }).waitFor();
    await page.getByRole('link', { name: 'Echo assistant' }).waitFor();
    expect((await page.getByRole('link', { name: /Scratch agent/ }).count()) === 0, 'the deleted agent is still listed');
  });

  await step('a custom role is made from the permission catalog', async () => {
    await nav(page, 'Roles').click();
    await page.getByRole('button', { name: 'New role' }).click();
    let dialog = page.getByRole('dialog');
    await dialog.getByLabel('Name').fill('Operator');
    await dialog.getByLabel('Description').fill('Creates agents and runs tasks');
    expect(await dialog.getByRole('checkbox', { name: /^org:manage/ }).isDisabled(), 'org:manage is offered to a TENANT_ADMIN');
    for (const name of ['agents:read', 'agents:create', 'tasks:read']) {
      await dialog.getByRole('checkbox', { name: new RegExp(`^${name}`) }).check();
    }
    await shot(page, 'role-editor');
    await dialog.getByRole('button', { name: 'Create role' }).click();
    const row = page.getByRole('row', { name: /Operator/ });
    await row.waitFor();
    await page.getByRole('button', { name: 'Edit role Operator' }).click();
    dialog = page.getByRole('dialog');
    await dialog.getByRole('checkbox', { name: /^tasks:create/ }).check();
    await dialog.getByRole('button', { name: 'Save role' }).click();
    await eventually(async () => (await row.textContent()).includes('tasks:create'), 'the edited role to list tasks:create');
    expect((await page.getByRole('button', { name: 'Edit role TENANT_ADMIN' }).count()) === 0, 'a system role is editable');
  });

  await step("a role change reaches the member's open console without signing in again", async () => {
    await nav(page, 'Members').click();
    await page.getByRole('button', { name: `Change roles of ${userEmail}` }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('checkbox', { name: /^Operator/ }).check();
    await dialog.getByRole('checkbox', { name: /^USER/ }).uncheck();
    await dialog.getByRole('button', { name: 'Save roles' }).click();
    await page.getByRole('row', { name: new RegExp(userEmail) }).getByText('Operator').waitFor();
    // Bob's access token is refused within seconds; his console refreshes it and gets the role.
    await revisitUntil(
      bob,
      async () => new URL(bob.url()).pathname === '/agents' && (await bob.getByRole('button', { name: 'New agent' }).isVisible()),
      '"New agent" in the member\'s console',
    );
    await bob.getByText('Operator').first().waitFor();
  });

  await step("removing a member returns their console to the sign-in page with a message", async () => {
    await page.getByRole('button', { name: `Remove ${userEmail}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove', exact: true }).click();
    await eventually(async () => (await page.getByRole('row', { name: new RegExp(userEmail) }).count()) === 0, 'the member row to go');
    const message = bob.getByText('Your session has ended or was revoked. Please sign in again.');
    await revisitUntil(bob, () => message.isVisible(), 'the removed member to be signed out');
    await bob.getByRole('heading', { name: 'Sign in' }).waitFor();
    await shot(bob, 'session-ended');
    await bob.context().close();
    // Adding someone who already has an account makes them a member at once (no invitation).
    await page.getByLabel('Email', { exact: true }).fill(userEmail);
    await page.getByLabel('Role', { exact: true }).selectOption('USER');
    await page.getByRole('button', { name: 'Add or invite' }).click();
    await page.getByText(`${userEmail} is now a member.`).waitFor();
    await page.getByRole('row', { name: new RegExp(userEmail) }).getByText('USER', { exact: true }).waitFor();
  });

  await step('create a second organization, switch to it and back', async () => {
    const switcher = page.getByLabel('Organization', { exact: true });
    await switcher.selectOption({ label: '+ Create organization…' });
    await page.getByRole('heading', { name: 'Create an organization' }).waitFor();
    await page.getByLabel('Name').fill('Beta Labs');
    expect((await page.getByLabel('Slug').inputValue()) === 'beta-labs', 'no slug suggested from the name');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('heading', { name: 'Beta Labs' }).waitFor();
    await page.getByText('TENANT_ADMIN').waitFor();
    await nav(page, 'Agents').click();
    await page.getByText('No agents yet').waitFor(); // nothing of Acme Robotics shows here
    await switcher.selectOption({ label: 'Acme Robotics' });
    await page.getByRole('heading', { name: 'Acme Robotics' }).waitFor();
    await nav(page, 'Agents').click();
    await page.getByRole('link', { name: 'Echo assistant' }).waitFor();
  });

  await step('a platform administrator opens the organization and sets a write-only secret', async () => {
    const code = await atrium(['admin', 'create-superadmin', '--email', 'root@example.com'], {
      ATRIUM_ADMIN_PASSWORD: 'platform admin password',
    });
    expect(code === 0, `atrium admin create-superadmin exited with ${code}`);
    const p3 = await newPage();
    await p3.goto('/login');
    await p3.getByLabel('Email').fill('root@example.com');
    await p3.getByLabel('Password').fill('platform admin password');
    await p3.getByRole('button', { name: 'Sign in' }).click();
    await p3.getByText('You are not in an organization yet').waitFor();
    await p3.getByLabel('Organization', { exact: true }).selectOption({ label: 'Acme Robotics' });
    await p3.getByRole('heading', { name: 'Acme Robotics' }).waitFor();
    await nav(p3, 'Settings').click();
    const secrets = p3.getByRole('form', { name: 'Secrets' });
    await secrets.getByLabel('Name').fill('OpenAI-Key');
    await secrets.getByLabel('Value').fill('sk-test-not-a-real-key');
    await secrets.getByRole('button', { name: 'Save secret' }).click();
    await secrets.getByText(/^Start with a lowercase letter/).waitFor(); // the server's rule, at the field
    await secrets.getByLabel('Name').fill('openai');
    await secrets.getByRole('button', { name: 'Save secret' }).click();
    await secrets.getByText('Secret “openai” saved.').waitFor();
    expect((await secrets.getByLabel('Value').inputValue()) === '', 'the secret stays in the form');
    expect((await p3.getByText('sk-test-not-a-real-key').count()) === 0, 'the secret is shown');
    await shot(p3, 'settings-secrets');
    await p3.context().close();
  });

  await step('the audit log shows these actions', async () => {
    await nav(page, 'Audit log').click();
    for (const action of [
      'auth.signup',
      'agent.create',
      'task.create',
      'member.invite',
      'apikey.create',
      'apikey.revoke',
      'agent.update',
      'agent.delete',
      'role.create',
      'role.update',
      'member.update',
      'member.remove',
      'member.add',
      'secret.update',
    ]) {
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

  await step('the live connection comes back after the server restarts, with updates', async () => {
    await nav(page, 'Dashboard').click();
    await page.getByRole('heading', { name: 'Recent tasks' }).waitFor();
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const live = page.getByRole('status').filter({ hasText: /^Live$/ });
    await live.waitFor();
    await restartServer(() => page.getByRole('status').filter({ hasText: /^Reconnecting…$/ }).waitFor());
    await live.waitFor(); // reconnected with backoff, the organization's subscription sent again
    const login = await fetch(`${base}/api/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: adminEmail, password: adminPassword }),
    });
    expect(login.status === 200, `admin login over the API answered ${login.status}`);
    const { access_token } = await login.json();
    const agentId = new URL(agentUrl).pathname.split('/').pop();
    const created = await fetch(`${base}/api/agents/${agentId}/tasks`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${access_token}` },
      body: JSON.stringify({ input: { message: 'after the restart', steps: 2 } }),
    });
    expect(created.status === 202, `starting a task answered ${created.status}`);
    const task = await created.json();
    await page.locator(`tr[data-task-id="${task.id}"]`).getByText('succeeded').waitFor();
    expect(await page.evaluate(() => window.__sameDocument === true), 'the page was reloaded');
  });

  await step('signing out returns to the login page and protects the console', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You have signed out.').waitFor();
    await page.goto('/agents');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
});
