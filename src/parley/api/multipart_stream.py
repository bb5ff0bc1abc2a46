"""Reading one file field of a multipart/form-data body as it arrives, chunk by chunk.

Starlette's ``request.form()`` would take the whole body (spooled to disk) before the
endpoint could refuse it; this reads only as far as the endpoint keeps asking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from parley.core.errors import BadRequest

__all__ = ["FilePart", "file_part"]

# Part headers are a few hundred bytes; anything near this is an attack, not a form.
_MAX_HEADER_BYTES = 16 * 1024
# What may come before the file field (other fields), read and thrown away.
_MAX_PREAMBLE_BYTES = 256 * 1024


class FilePart:
    def __init__(self, filename: str, chunks: AsyncIterator[bytes]) -> None:
        self.filename = filename
        self.chunks = chunks


async def file_part(request: Request, field: str = "file") -> FilePart:
    """The named file field: its filename, and an iterator over its bytes."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BadRequest("Send the file as multipart/form-data, in a field named 'file'.")
    reader = _Reader(boundary, field)
    body = request.stream()
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        reader.feed(chunk)
        if reader.filename is not None:
            return FilePart(reader.filename, reader.rest(body))
        if seen > _MAX_PREAMBLE_BYTES:
            raise BadRequest(f"No file field named {field!r} near the start of the form.")
    raise BadRequest(f"The form has no file field named {field!r}.")


class _Reader:
    def __init__(self, boundary: bytes, field: str) -> None:
        self._field = field.encode()
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._in_file = False
        self.finished = False
        self.filename: str | None = None
        self.pending: list[bytes] = []
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_part,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as error:
            # The client's bytes, not a fault of ours: a 400 that says what is wrong.
            raise BadRequest(f"The body is not valid multipart/form-data: {error}.") from None

    async def rest(self, body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        while True:
            if self.pending:
                chunks, self.pending = self.pending, []
                for chunk in chunks:
                    yield chunk
            if self.finished:
                return
            try:
                chunk = await anext(body)
            except StopAsyncIteration:
                raise BadRequest("The upload ended before the file did.") from None
            self.feed(chunk)

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        self._check_header()

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        if len(self._header_name) + len(self._header_value) > _MAX_HEADER_BYTES:
            raise BadRequest("A form part's headers are too long.")

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") == self._field and self.filename is None and not self.finished:
            self._in_file = True
            self.filename = options.get(b"filename", b"file").decode("utf-8", "replace")

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.pending.append(bytes(data[start:end]))

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self.finished = True
