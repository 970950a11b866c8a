"""The bench's parsers on outputs captured from the real tools (bench/testdata).

    python3 -m unittest discover -s bench -p 'test_*.py'
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
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


class Docs(unittest.TestCase):
    def test_splice_keeps_prose(self):
        doc = 'intro\n\n%s\nold table\n%s\n\noutro\n' % (report.BEGIN, report.END)
        out = report.splice(doc, '%s\nnew\n%s' % (report.BEGIN, report.END))
        self.assertEqual(out, 'intro\n\n%s\nnew\n%s\n\noutro\n' % (report.BEGIN, report.END))
        self.assertIn('new', report.splice('just prose\n', 'new'))


if __name__ == '__main__':
    unittest.main()
