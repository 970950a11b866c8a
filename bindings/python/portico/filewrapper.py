"""FileWrapper: wsgi.file_wrapper, an iterable over a file-like object."""


class FileWrapper(object):
    """Reads BLOCK_SIZE blocks from FILELIKE until it returns nothing. close()
    closes the file, as PEP 3333 asks, when the server closes the iterable."""

    def __init__(self, filelike, block_size=65536):
        self.filelike = filelike
        self.block_size = block_size
        if hasattr(filelike, 'close'):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.block_size)
        if data:
            return data
        raise StopIteration

    next = __next__  # Python 2
