"""`python -m unittest`, with skips that CI cannot accept turned into failures.

Usage (the same arguments as `python -m unittest`, run from the suite's folder):

    python /path/to/tests/unittest_ci.py -v test_x test_y
    python /path/to/tests/unittest_ci.py discover -s DIR -p 'test_*.py' -v

A skip is either "not applicable" (its reason starts with `n/a:`: a version gate,
a container without WebSocket, a third-party module that only Debian's python3
has, asked of another interpreter) or a sign that something the suite needs is
missing (a tool, a module, the library). Under CI=true the second kind fails the
run and names what is missing: a suite that cannot run must never pass as skipped.
Outside CI both kinds are skips, listed as such.

Python 2.7 and 3.x.
"""
import os
import sys
import unittest

NOT_APPLICABLE = 'n/a:'


def in_ci():
    return os.environ.get('CI', '').lower() == 'true'


class CIResult(unittest.TextTestResult):
    """Counts an unacceptable skip as a failure of that test (CI only)."""

    def addSkip(self, test, reason):
        if in_ci() and not str(reason).startswith(NOT_APPLICABLE):
            try:
                raise AssertionError('skipped under CI=true, which needs it to run: %s' % reason)
            except AssertionError:
                self.addFailure(test, sys.exc_info())
            return
        unittest.TextTestResult.addSkip(self, test, reason)


class CIRunner(unittest.TextTestRunner):
    resultclass = CIResult


def main():
    # `python -m unittest` looks for test modules in the current directory.
    sys.path.insert(0, os.getcwd())
    sys.argv[0] = 'python -m unittest'
    unittest.main(module=None, testRunner=CIRunner)


if __name__ == '__main__':
    main()
