"""A Flask app for tests/frameworks/run.sh."""

import json

from flask import Flask, request

app = Flask(__name__)


@app.route('/hello')
def hello():
    return 'hello %s from %s\n' % (request.args.get('name', 'nobody'),
                                   request.environ['SERVER_PROTOCOL'])


@app.route('/form', methods=['POST'])
def form():
    return 'form %s\n' % ' '.join('%s=%s' % item for item in sorted(request.form.items()))


@app.route('/json', methods=['POST'])
def json_echo():
    return 'json %s\n' % json.dumps(request.get_json(), sort_keys=True)
