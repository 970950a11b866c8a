// WebSocket over HTTP/2 (RFC 8441) with node's http2 module: waits for the
// server's SETTINGS_ENABLE_CONNECT_PROTOCOL, opens an extended CONNECT,
// sends one masked text frame and prints the echo. Usage: node ws_h2_client.js URL
const http2 = require('http2');
const crypto = require('crypto');
const url = process.argv[2];
const session = http2.connect(url, { rejectUnauthorized: false });
const fail = (why) => { console.log('error ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), 5000).unref();
session.on('error', (e) => fail(e.message));
session.on('remoteSettings', (settings) => {
  if (!settings.enableConnectProtocol) fail('server did not enable the CONNECT protocol');
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/ws',
                                   'sec-websocket-version': '13' });
  stream.on('response', (headers) => {
    if (headers[':status'] !== 200) fail('status ' + headers[':status']);
    const payload = Buffer.from('hello over h2');
    const mask = crypto.randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    stream.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
  });
  let got = Buffer.alloc(0);
  let echoed = false;
  stream.on('data', (d) => {
    got = Buffer.concat([got, d]);
    if (!echoed && got.length >= 2 && got.length >= 2 + (got[1] & 0x7f)) {
      echoed = true;
      console.log(got.subarray(2, 2 + (got[1] & 0x7f)).toString());
      // Close 1000, masked with a zero mask.
      stream.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]));
      stream.on('close', () => session.close());
    }
  });
});
