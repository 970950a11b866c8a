// WebSocket over HTTP/2 (RFC 8441) with node's http2 module, for the ASGI
// tests: extended CONNECT offering subprotocol "chat", then prints one line
// per event: the response, each server message, the server's close code.
// Usage: node ws_h2.js URL PATH
const http2 = require('http2');
const crypto = require('crypto');
const [url, path] = process.argv.slice(2);
const session = http2.connect(url, { rejectUnauthorized: false });
const fail = (why) => { console.log('error ' + why); process.exit(1); };
setTimeout(() => fail('timeout'), 8000).unref();
session.on('error', (e) => fail(e.message));
const frame = (opcode, payload) => {
  const mask = crypto.randomBytes(4);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, masked]);
};
session.on('remoteSettings', (settings) => {
  if (!settings.enableConnectProtocol) fail('server did not enable the CONNECT protocol');
  const stream = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': path,
                                   'sec-websocket-version': '13', 'sec-websocket-protocol': 'chat, other' });
  stream.on('response', (h) => {
    console.log('status ' + h[':status'] + ' protocol ' + h['sec-websocket-protocol'] + ' x-asgi ' + h['x-asgi']);
    if (h[':status'] !== 200) { session.close(); return; }
  });
  let buf = Buffer.alloc(0);
  let step = 0;
  stream.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + (buf[1] & 0x7f)) {
      const op = buf[0] & 0x0f, len = buf[1] & 0x7f;
      const payload = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      if (op === 8) {
        console.log('close ' + payload.readUInt16BE(0) + ' ' + payload.subarray(2).toString());
        stream.end(frame(8, payload.subarray(0, 2)));
        stream.on('close', () => session.close());
        return;
      }
      console.log('message ' + payload.toString());
      step++;
      if (step === 1) stream.write(frame(1, Buffer.from('ping over h2')));
      if (step === 2) stream.write(frame(1, Buffer.from('close:4001')));
    }
  });
});
