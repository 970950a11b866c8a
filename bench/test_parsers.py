"""The bench's parsers on outputs captured from the real tools (bench/testdata).

    python3 -m unittest discover -s bench -p 'test_*.py'
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402
import loadgen  # noqa: E402
import report  # noqa: E402


def sample(name):
    with open(os.path.join(HERE, 'testdata', name)) as f:
        return f.read()


class Wrk(unittest.TestCase):
    def test_clean(self):
        r = loadgen.parse_wrk(sample('wrk.txt'))
        self.assertEqual(r['rate'], 19363.60)
        self.assertEqual(r['requests'], 19955)
        self.assertAlmostEqual(r['p50_ms'], 1.51)
        self.assertAlmostEqual(r['p99_ms'], 12.23)
        self.assertEqual(r['errors'], {})

    def test_socket_errors(self):  # uWSGI --http-socket closes every connection
        r = loadgen.parse_wrk(sample('wrk-socket-errors.txt'))
        self.assertEqual(r['rate'], 4256.98)
        self.assertEqual(r['errors'], {'read': 5088})
        self.assertAlmostEqual(r['p99_ms'], 33.37)

    def test_non2xx(self):
        r = loadgen.parse_wrk(sample('wrk-non2xx.txt'))
        self.assertEqual(r['errors'], {'non2xx': 869})
        self.assertEqual(r['rate'], 862.96)

    def test_units(self):
        out = sample('wrk.txt').replace('1.51ms', '910.00us').replace('12.23ms', '1.20s')
        r = loadgen.parse_wrk(out)
        self.assertAlmostEqual(r['p50_ms'], 0.91)
        self.assertAlmostEqual(r['p99_ms'], 1200.0)

    def test_garbage(self):
        self.assertRaises(loadgen.RunError, loadgen.parse_wrk, 'unable to connect to 127.0.0.1:1')


class H2load(unittest.TestCase):
    def test_h2c(self):
        r = loadgen.parse_h2load(sample('h2load.txt'))
        self.assertEqual(r['rate'], 13942.00)
        self.assertEqual(r['requests'], 13942)
        self.assertEqual(r['protocol'], 'h2c')
        self.assertAlmostEqual(r['mean_ms'], 6.74)
        self.assertEqual(r['errors'], {})

    def test_tls(self):
        r = loadgen.parse_h2load(sample('h2load-tls.txt'))
        self.assertEqual(r['protocol'], 'h2')
        self.assertEqual(r['rate'], 8452.00)

    def test_failures(self):
        out = sample('h2load.txt').replace('13942 succeeded, 0 failed, 0 errored',
                                           '13900 succeeded, 42 failed, 42 errored')
        out = out.replace('0 4xx, 0 5xx', '0 4xx, 7 5xx')
        r = loadgen.parse_h2load(out)
        self.assertEqual(r['errors'], {'failed': 42, 'errored': 42, 'non2xx': 7})

    def test_log(self):
        r = loadgen.parse_h2load_log(sample('h2load-log.tsv'))
        self.assertEqual(r['logged'], 20)
        self.assertAlmostEqual(r['p50_ms'], 13.620)  # nearest rank: the 10th of 20
        self.assertAlmostEqual(r['p99_ms'], 35.147)  # the 20th of 20

    def test_percentile(self):
        values = list(range(1, 101))
        self.assertEqual(loadgen.percentile(values, 50), 50)
        self.assertEqual(loadgen.percentile(values, 99), 99)
        self.assertEqual(loadgen.percentile([7], 99), 7)
        self.assertIsNone(loadgen.percentile([], 50))


class Wsload(unittest.TestCase):
    def test_result(self):
        r = loadgen.parse_wsload(sample('wsload.txt'))
        self.assertEqual((r['rate'], r['p50_ms'], r['p99_ms'], r['requests']), (12322.0, 0.588, 5.499, 12322))

    def test_ready(self):
        self.assertEqual(loadgen.parse_ready('ready 1000 in 0.412s\n'), (1000, 0.412))
        self.assertEqual(loadgen.parse_ready('ready 10\n'), (10, None))
        self.assertRaises(loadgen.RunError, loadgen.parse_ready, 'idleconns: connection refused\n')


class AB(unittest.TestCase):
    def test_quartiles(self):
        self.assertEqual(bench.quartiles([5, 1, 3, 2, 4]), (2, 3, 4))
        self.assertEqual(bench.quartiles([1.0, 2.0]), (1.25, 1.5, 1.75))
        self.assertEqual(bench.quartiles([7]), (7, 7, 7))
        self.assertIsNone(bench.quartiles([]))

    def test_compare(self):
        # Round 3 ran while the machine was slow: both builds lost half, so
        # its paired ratio is like the others and only the medians move.
        base = [1000.0, 1100.0, 500.0, 1050.0, 950.0]
        new = [1020.0, 1111.0, 515.0, 1092.0, 950.0]
        c = bench.ab_compare(base, new)
        self.assertEqual((c['base_median'], c['new_median']), (1000.0, 1020.0))
        self.assertAlmostEqual(c['ratio'], 1.02)
        self.assertEqual([round(r, 3) for r in c['paired']], [1.02, 1.01, 1.03, 1.04, 1.0])
        self.assertAlmostEqual(c['paired_q1'], 1.01)
        self.assertAlmostEqual(c['paired_median'], 1.02)
        self.assertAlmostEqual(c['paired_q3'], 1.03)
        self.assertEqual(bench.ab_line(c, 'req/s'), 'base 1,000, new 1,020 req/s: new/base 1.020 (+2.0%); per-round '
                         'new/base q1 1.010, median 1.020, q3 1.030 (5 rounds)')

    def test_compare_no_rate(self):
        c = bench.ab_compare([0.0, 1000.0], [10.0, 900.0])
        self.assertEqual([round(r, 3) for r in c['paired']], [0.9])  # a zero base has no ratio
        self.assertIsNone(bench.ab_compare([], [])['ratio'])

    def test_cases(self):
        sets = bench.server_sets()
        cases = [(sid, srv.name) for sid, srv in bench.ab_cases(bench.AB_DEFAULT, sets)]
        self.assertEqual(cases, [('h1_hello', 'portico'), ('h1_hello', 'portico-asgi'), ('h2c', 'portico'),
                                 ('ws', 'portico-asgi')])
        self.assertEqual([srv.name for _, srv in bench.ab_cases('ws', sets)], ['portico', 'portico-asgi'])
        self.assertRaises(ValueError, bench.ab_cases, 'h2c:portico-asgi', sets)  # no ASGI server in h2c
        self.assertRaises(ValueError, bench.ab_cases, 'nope', sets)

    def test_pair(self):
        srv = dict((s.name, s) for s in bench.server_sets()['ws'])['portico-asgi']
        base, new = bench.ab_pair(srv, '/tmp/base')
        self.assertEqual((base.name, new.name), ('portico-asgi@base', 'portico-asgi@new'))
        self.assertIs(base.argv, new.argv)  # the same command: only the build differs
        self.assertEqual(base.env['PORTICO_LIBRARY'], '/tmp/base/build/libportico.so')
        self.assertEqual(base.env['PYTHONPATH'], '/tmp/base/bindings/python')
        self.assertEqual(new.env['PORTICO_LIBRARY'], os.path.join(bench.ROOT, 'build', 'libportico.so'))


class Docs(unittest.TestCase):
    def test_splice_keeps_prose(self):
        doc = 'intro\n\n%s\nold table\n%s\n\noutro\n' % (report.BEGIN, report.END)
        out = report.splice(doc, '%s\nnew\n%s' % (report.BEGIN, report.END))
        self.assertEqual(out, 'intro\n\n%s\nnew\n%s\n\noutro\n' % (report.BEGIN, report.END))
        self.assertIn('new', report.splice('just prose\n', 'new'))


if __name__ == '__main__':
    unittest.main()
