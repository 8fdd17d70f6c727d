// The console as `atrium serve` delivers it, in a real browser: the strict CSP holds (no
// violation on any screen), deep links load through the SPA fallback, hashed assets are cached
// for good and index.html is revalidated, and the screens that need no session work — sign-up
// checks at the field, keyboard use, the invitation page dropping its token from the address bar.
//
//   node e2e/served.mjs <atrium binary> [screenshot dir]
import { expect, run } from './harness.mjs';

await run(async ({ base, newPage, step }) => {
  const page = await newPage();

  await step('index.html comes with the strict CSP and revalidation; assets are immutable', async () => {
    const res = await page.goto('/');
    expect(res.status() === 200, `GET / answered ${res.status()}`);
    const headers = res.headers();
    const csp = headers['content-security-policy'] ?? '';
    for (const directive of ["script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      expect(csp.includes(directive), `CSP lacks ${directive}: "${csp}"`);
    }
    expect(/no-cache/.test(headers['cache-control'] ?? ''), `index.html Cache-Control: ${headers['cache-control']}`);
    const assets = await page.evaluate(() =>
      [...document.querySelectorAll('script[src], link[rel=stylesheet]')].map((e) => e.getAttribute('src') ?? e.getAttribute('href')),
    );
    expect(assets.length >= 2 && assets.every((a) => a.startsWith('/assets/')), `assets: ${assets}`);
    for (const a of assets) {
      const r = await fetch(base + a);
      expect(r.status === 200 && /immutable/.test(r.headers.get('cache-control') ?? ''), `${a}: ${r.status} ${r.headers.get('cache-control')}`);
    }
    expect((await fetch(`${base}/assets/missing-0000.js`)).status === 404, 'a missing hashed asset is not a 404');
  });

  await step('without a session, the console shows the sign-in page', async () => {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(new URL(page.url()).pathname === '/login', `landed on ${page.url()}`);
  });

  await step('a deep link loads through the SPA fallback and comes back after sign-in', async () => {
    await page.goto('/agents/0190abcd?tab=runs');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const url = new URL(page.url());
    expect(url.pathname === '/login' && url.searchParams.get('next') === '/agents/0190abcd?tab=runs', `redirected to ${page.url()}`);
  });

  await step('sign-up is usable with the keyboard and checks fields before sending', async () => {
    const requests = [];
    page.on('request', (r) => r.url().includes('/api/auth/signup') && requests.push(r.url()));
    await page.goto('/signup');
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await page.getByLabel('Your name').focus();
    await page.keyboard.type('Ada');
    await page.keyboard.press('Tab');
    expect(await page.getByLabel('Email').evaluate((e) => e === document.activeElement), 'Tab did not reach Email');
    await page.keyboard.type('not-an-email');
    await page.keyboard.press('Tab');
    await page.keyboard.type('short');
    await page.keyboard.press('Enter');
    await page.getByText('Enter a valid email address, like name@example.com.').waitFor();
    await page.getByText('Use at least 10 characters.').waitFor();
    await page.getByText('Enter a name for your organization.').waitFor();
    expect((await page.getByLabel('Email').getAttribute('aria-invalid')) === 'true', 'Email not marked invalid');
    const described = await page.getByLabel('Password').getAttribute('aria-describedby');
    expect(described && (await page.locator(`[id="${described.split(' ')[0]}"]`).textContent()) === 'Use at least 10 characters.', 'the error is not tied to its field');
    expect(requests.length === 0, 'an invalid form was sent');
  });

  await step('the invitation page takes its token out of the address bar', async () => {
    await page.goto('/invitations/accept?token=inv_secret_value');
    await page.getByRole('heading', { name: 'Join your team' }).waitFor();
    expect(!page.url().includes('inv_secret_value'), `token still in ${page.url()}`);
    const history = await page.evaluate(() => window.location.href);
    expect(!history.includes('token='), 'token still in location');
    await page.goto('/invitations/accept');
    await page.getByText('This invitation link is incomplete.').waitFor();
  });

  await step('an unknown /api path is a problem+json 404, never the console', async () => {
    const r = await fetch(`${base}/api/no-such-route`);
    expect(r.status === 404, `status ${r.status}`);
    expect((r.headers.get('content-type') ?? '').startsWith('application/problem+json'), `content-type ${r.headers.get('content-type')}`);
  });

  await step('the sign-in page fits a phone screen', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    await phone.goto('/login');
    await phone.getByRole('heading', { name: 'Sign in' }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow <= 0, `the page is ${overflow}px wider than the screen`);
  });
});
