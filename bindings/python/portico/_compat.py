"""The few differences between Python 2.7 and 3.x that the binding touches."""

import sys

PY2 = sys.version_info[0] == 2

if PY2:
    from urllib import unquote as unquote_to_native   # str in, byte str out

    text_type = unicode  # noqa: F821 (Python 2 only)

    def native_from_latin1(data):
        """Record bytes to a native str: on 2.7 native str is bytes already."""
        return data

    def latin1_from_native(text):
        return text

    exec("def reraise(tp, value, tb):\n    raise tp, value, tb\n")
else:
    from urllib.parse import unquote_to_bytes

    text_type = str

    def unquote_to_native(path):
        """Percent-decode to bytes, then latin-1 to str, as PEP 3333 wants."""
        return unquote_to_bytes(path).decode('latin-1')

    def native_from_latin1(data):
        return data.decode('latin-1')

    def latin1_from_native(text):
        return text.encode('latin-1')

    def reraise(tp, value, tb):
        if value is None:
            value = tp()
        if value.__traceback__ is not tb:
            raise value.with_traceback(tb)
        raise value
