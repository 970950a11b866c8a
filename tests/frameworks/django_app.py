"""A one-file Django project for tests/frameworks/run.sh: settings in code,
a few views, the WSGI application Django makes."""

import json

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY='portico-framework-test-only',
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=['*'],
    MIDDLEWARE=['django.middleware.common.CommonMiddleware'],
    INSTALLED_APPS=[],
    USE_TZ=True,
)

from django.core.wsgi import get_wsgi_application  # noqa: E402 (needs settings)
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402


def hello(request):
    return HttpResponse('hello %s from %s\n' % (request.GET.get('name', 'nobody'),
                                                request.META['SERVER_PROTOCOL']),
                        content_type='text/plain')


@csrf_exempt
def form(request):
    if request.method != 'POST':
        return HttpResponse(status=405)
    items = sorted((key, request.POST[key]) for key in request.POST)
    return HttpResponse('form %s\n' % ' '.join('%s=%s' % item for item in items),
                        content_type='text/plain')


@csrf_exempt
def json_echo(request):
    got = json.loads(request.body.decode('utf-8'))
    return HttpResponse('json %s\n' % json.dumps(got, sort_keys=True), content_type='text/plain')


urlpatterns = [
    path('hello', hello),
    path('form', form),
    path('json', json_echo),
]

application = get_wsgi_application()
