// Echo through Portico with the npm `ws` package: text, binary (1 MiB too),
// with and without permessage-deflate, then a clean close.
// Usage: node node_client.js PORT. One PASS/FAIL line per case.
'use strict';
const http = require('http');
const WebSocket = require('ws');

const port = Number(process.argv[2]);

function last(name) {
  return new Promise((resolve, reject) => {
    const tries = (left) => {
      http.get({ host: '127.0.0.1', port, path: '/last?name=' + name }, (res) => {
        let body = '';
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          const value = JSON.parse(body);
          if (value !== null) return resolve(value);
          if (left <= 0) return reject(new Error('nothing recorded for ' + name));
          setTimeout(() => tries(left - 1), 50);
        });
      }).on('error', reject);
    };
    tries(100);
  });
}

function echoCase(deflate) {
  const tag = deflate ? 'node-deflate' : 'node-plain';
  const messages = [
    'hello', 'h\u00e9llo \u2603', '', Buffer.from([0, 1, 254, 255]), Buffer.alloc(0),
    'x'.repeat(100000), Buffer.alloc(1 << 20, 0xab),
  ];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), 60000);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/echo?tag=${tag}`,
      { perMessageDeflate: deflate });
    let index = 0;
    ws.on('error', (err) => { clearTimeout(timer); reject(err); });
    ws.on('open', () => {
      const negotiated = ws.extensions;
      if (deflate && !negotiated.includes('permessage-deflate')) {
        return reject(new Error('permessage-deflate not negotiated: ' + JSON.stringify(negotiated)));
      }
      if (!deflate && negotiated !== '') {
        return reject(new Error('unexpected extensions: ' + negotiated));
      }
      ws.send(messages[0]);
    });
    ws.on('message', (data, isBinary) => {
      const sent = messages[index];
      const wantBinary = Buffer.isBuffer(sent);
      const same = wantBinary ? (isBinary && Buffer.compare(data, sent) === 0)
        : (!isBinary && data.toString('utf8') === sent);
      if (!same) {
        clearTimeout(timer);
        return reject(new Error(`message ${index} came back different`));
      }
      index += 1;
      if (index < messages.length) {
        ws.send(messages[index]);
      } else {
        ws.ping(Buffer.from('ping from ws'));
      }
    });
    ws.on('pong', () => ws.close(1000, 'bye from ws'));
    ws.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 1000 || index !== messages.length) {
        return reject(new Error(`closed with ${code} after ${index} messages`));
      }
      last(tag).then((value) => {
        if (value[0] !== 1000 || value[1] !== 'bye from ws') {
          return reject(new Error('the app saw ' + JSON.stringify(value)));
        }
        resolve(ws.extensions);
      }, reject);
    });
  });
}

(async () => {
  const version = require('ws/package.json').version;
  console.log('ws ' + version + ', node ' + process.version);
  let failed = 0;
  for (const deflate of [false, true]) {
    const name = 'node ws echo, ' + (deflate ? 'permessage-deflate' : 'no compression');
    try {
      const ext = await echoCase(deflate);
      console.log(`PASS: ${name} (extensions: ${ext || 'none'})`);
    } catch (err) {
      failed += 1;
      console.log(`FAIL: ${name}: ${err.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
