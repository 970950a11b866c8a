"""A WebOb app for tests/frameworks/run.sh (the kind of shim the
requirements name)."""

import json

from webob import Response
from webob.dec import wsgify
from webob.exc import HTTPNotFound


@wsgify
def application(request):
    if request.path_info == '/hello':
        return Response('hello %s from %s\n' % (request.GET.get('name', 'nobody'),
                                                request.environ['SERVER_PROTOCOL']),
                        content_type='text/plain')
    if request.path_info == '/form' and request.method == 'POST':
        items = sorted(request.POST.items())
        return Response('form %s\n' % ' '.join('%s=%s' % item for item in items),
                        content_type='text/plain')
    if request.path_info == '/json' and request.method == 'POST':
        return Response('json %s\n' % json.dumps(request.json, sort_keys=True),
                        content_type='text/plain')
    return HTTPNotFound()
