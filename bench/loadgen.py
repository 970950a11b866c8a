"""The load generators the bench drives, and the parsers of what they print.

Each parse_* function takes a tool's captured output and returns a dict; they
are pure, so bench/test_parsers.py checks them on outputs kept in
bench/testdata/. Each run_* function runs one measured load against a port and
returns the parsed dict (raising RunError when the tool failed or its output
shows the run is not valid).
"""

import math
import os
import re
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = os.path.join(ROOT, 'build', 'tools')


class RunError(Exception):
    """A load run that did not produce a valid measurement."""


# --- parsers -----------------------------------------------------------------

_UNITS_MS = {'us': 0.001, 'ms': 1.0, 's': 1000.0, 'm': 60000.0}
_WRK_RPS = re.compile(r'^Requests/sec:\s+([\d.]+)\s*$', re.M)
_WRK_TOTAL = re.compile(r'^\s*(\d+) requests in ([\d.]+)(us|ms|s|m), ', re.M)
_WRK_PCT = re.compile(r'^\s+(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$', re.M)
_WRK_SOCKET = re.compile(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)')
_WRK_NON2XX = re.compile(r'Non-2xx or 3xx responses: (\d+)')


def parse_wrk(out):
    """wrk --latency output: rate, p50/p99 in ms, request count and errors."""
    rate = _WRK_RPS.search(out)
    total = _WRK_TOTAL.search(out)
    if not rate or not total:
        raise RunError('no result in wrk output: %r' % out[-300:])
    pct = dict((p, float(v) * _UNITS_MS[u]) for p, v, u in _WRK_PCT.findall(out))
    sock = _WRK_SOCKET.search(out)
    non2xx = _WRK_NON2XX.search(out)
    errors = {}
    if sock:
        for name, value in zip(('connect', 'read', 'write', 'timeout'), sock.groups()):
            if int(value):
                errors[name] = int(value)
    if non2xx:
        errors['non2xx'] = int(non2xx.group(1))
    return {'rate': float(rate.group(1)), 'requests': int(total.group(1)),
            'p50_ms': pct.get('50'), 'p99_ms': pct.get('99'), 'errors': errors}


_H2_RPS = re.compile(r'^finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s', re.M)
_H2_REQS = re.compile(r'^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, '
                      r'(\d+) errored(?:, (\d+) timeout)?', re.M)
_H2_CODES = re.compile(r'^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx', re.M)
_H2_PROTO = re.compile(r'^Application protocol: (\S+)', re.M)
_H2_MEAN = re.compile(r'^time for request:\s+(\S+)\s+(\S+)\s+(\S+)', re.M)


def _duration_ms(text):
    m = re.match(r'^([\d.]+)(us|ms|s|m)$', text)
    return float(m.group(1)) * _UNITS_MS[m.group(2)] if m else None


def parse_h2load(out):
    """h2load output: rate, protocol, counts; latency comes from its log file."""
    rate = _H2_RPS.search(out)
    reqs = _H2_REQS.search(out)
    if not rate or not reqs:
        raise RunError('no result in h2load output: %r' % out[-300:])
    total, ok, failed, errored, timeout = reqs.groups()
    codes = _H2_CODES.search(out)
    proto = _H2_PROTO.search(out)
    mean = _H2_MEAN.search(out)
    errors = {}
    for name, value in (('failed', failed), ('errored', errored), ('timeout', timeout or '0')):
        if int(value):
            errors[name] = int(value)
    if codes:
        non2xx = sum(int(c) for c in codes.groups()[1:])
        if non2xx:
            errors['non2xx'] = non2xx
    return {'rate': float(rate.group(3)), 'requests': int(ok),
            'protocol': proto.group(1) if proto else None,
            'mean_ms': _duration_ms(mean.group(3)) if mean else None, 'errors': errors}


def percentile(sorted_values, q):
    """The nearest-rank percentile q (0-100) of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, int(math.ceil(q / 100.0 * len(sorted_values) - 1e-9)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def parse_h2load_log(text):
    """h2load --log-file (start us, status, duration us per line): p50/p99 in ms."""
    durations = []
    for line in text.splitlines():
        fields = line.split('\t')
        if len(fields) >= 3 and fields[2].strip().isdigit():
            durations.append(int(fields[2]) / 1000.0)
    durations.sort()
    return {'p50_ms': percentile(durations, 50), 'p99_ms': percentile(durations, 99),
            'logged': len(durations)}


_WS = re.compile(r'^([\d.]+) msg/s p50 ([\d.]+) ms p99 ([\d.]+) ms(?: \((\d+) round trips\))?', re.M)


def parse_wsload(out):
    """bench/go/wsload output: messages/s and round-trip p50/p99 in ms."""
    m = _WS.search(out)
    if not m:
        raise RunError('no result in wsload output: %r' % out[-300:])
    rate, p50, p99, count = m.groups()
    return {'rate': float(rate), 'p50_ms': float(p50), 'p99_ms': float(p99),
            'requests': int(count) if count else None, 'errors': {}}


_READY = re.compile(r'^ready (\d+)(?: in ([\d.]+)s)?\s*$')


def parse_ready(line):
    """bench/go/idleconns' first line: (connections held, seconds to open them)."""
    m = _READY.match(line)
    if not m:
        raise RunError('idleconns: %r' % line)
    return int(m.group(1)), float(m.group(2)) if m.group(2) else None


# --- runners -----------------------------------------------------------------

WRK_POST_LUA = os.path.join(ROOT, 'bench', 'post100k.lua')


def _run(cmd, timeout):
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunError('%s timed out after %ds' % (os.path.basename(cmd[0]), timeout))
    if proc.returncode != 0:
        raise RunError('%s exited %d: %s' % (os.path.basename(cmd[0]), proc.returncode,
                                             (proc.stderr or proc.stdout).strip()[-300:]))
    return proc.stdout


def wrk(url, seconds, conns=50, script=None, prefix=()):
    cmd = list(prefix) + ['wrk', '-t1', '-c%d' % conns, '-d%ds' % seconds, '--latency']
    if script:
        cmd += ['-s', script]
    return parse_wrk(_run(cmd + [url], seconds + 30))


def h2load(url, seconds, conns=10, streams=10, prefix=(), expect_protocol=None):
    fd, log = tempfile.mkstemp(prefix='h2load-', suffix='.tsv')
    os.close(fd)
    try:
        cmd = list(prefix) + ['h2load', '-c', str(conns), '-m', str(streams), '-t', '1',
                              '-D', str(seconds), '--log-file', log, url]
        result = parse_h2load(_run(cmd, seconds + 30))
        with open(log) as f:
            result.update(parse_h2load_log(f.read()))
    finally:
        os.unlink(log)
    if expect_protocol and result['protocol'] != expect_protocol:
        raise RunError('h2load spoke %s, not %s' % (result['protocol'], expect_protocol))
    return result


def wsload(url, seconds, conns=10, size=32, prefix=()):
    cmd = list(prefix) + [os.path.join(TOOLS, 'wsload'), '-url', url, '-c', str(conns),
                          '-size', str(size), '-d', '%ds' % seconds]
    return parse_wsload(_run(cmd, seconds + 30))
