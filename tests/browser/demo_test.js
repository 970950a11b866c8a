// Headless Chromium opens the demo page over HTTP/1.1 and over HTTP/2 (TLS)
// and waits for its WebSocket to report which protocol carries it. Over
// h2, Chromium picks RFC 8441 by itself because the server advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL. Usage: node demo_test.js HTTP_URL HTTPS_URL
const { chromium } = require('playwright-core');

const cases = [
  { url: process.argv[2], page: 'HTTP/1.1', ws: 'HTTP/1.1 Upgrade' },
  { url: process.argv[3], page: 'HTTP/2.0', ws: 'HTTP/2 extended CONNECT' },
];

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  let failed = 0;
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    for (const c of cases) {
      const page = await context.newPage();
      const response = await page.goto(c.url, { timeout: 10000 });
      const pageProto = await page.locator('strong').first().textContent();
      await page.waitForFunction(() => document.getElementById('ws-protocol').textContent !== '?',
                                 null, { timeout: 10000 });
      const wsProto = await page.locator('#ws-protocol').textContent();
      const ok = response.status() === 200 && pageProto === c.page && wsProto.startsWith(c.ws);
      console.log((ok ? 'ok    ' : 'FAIL  ') + c.url + ': page over ' + pageProto + ', WebSocket on ' + wsProto);
      if (!ok) failed++;
      await page.close();
    }
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log('FAIL  ' + e.message); process.exit(1); });
