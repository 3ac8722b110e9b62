"""The OAuth form endpoints (``/token``, ``/introspect``, ``/revoke``, ``/bc-authorize``) as plain
ASGI apps: form body in, JSON out, without Starlette's ``Request`` and ``JSONResponse`` objects.

The token endpoint is the hot path of the whole service; building a request object, streaming
its body through it and rendering a response object cost about as much CPU as the exchange's
signature check. The behaviour is Starlette's: the same body limit, the same header decoding,
the same JSON bytes and headers. Errors are raised, not rendered here, so that the app's one
error handler (``deputy.http.errors``) answers them as for every other route.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import Message, Receive, Scope, Send

from deputy.errors import InvalidRequest, OAuthError
from deputy.protocol.request import MAX_BODY_BYTES, FormRequest
from deputy.protocol.response import Response

# JSONResponse's rendering, with the encoder built once instead of per response.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
_JSON = b"application/json"


def ascii_header(value: str | None) -> str | None:
    """Credentials are ASCII (RFC 9110 §11: token68 / auth-params); the server decodes header
    bytes as latin-1. Replace anything else so that such a header is bad credentials (401)
    rather than an error deep inside base64 decoding (500)."""
    if value is None or value.isascii():
        return value
    return value.encode("ascii", "replace").decode("ascii")


async def read_form(scope: Scope, receive: Receive) -> FormRequest:
    """The request's form, reading at most MAX_BODY_BYTES (+1, so that the form parser sees it
    is too large). The first of a repeated header counts, as with Starlette's ``Headers.get``."""
    content_type = authorization = declared = None
    for name, value in scope["headers"]:
        if name == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"content-length" and declared is None:
            declared = value.decode("latin-1")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InvalidRequest("request_too_large", f"content-length {declared}")
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                break
        if not message.get("more_body", False):
            break
    client = scope.get("client")
    return FormRequest.from_body(
        chunks[0] if len(chunks) == 1 else b"".join(chunks),
        content_type, ascii_header(authorization), client[0] if client else None,
    )


async def send_json(send: Send, response: Response) -> None:
    body = _ENCODER.encode(response.body).encode("utf-8")
    headers = [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", _JSON)]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def blocking(handle: Callable[[FormRequest], Response]) -> Callable[[FormRequest], Awaitable[Response]]:
    """A blocking ``handle(form)`` (it may wait for the database), run in the thread pool."""

    def run(form: FormRequest) -> Awaitable[Response]:
        return run_in_threadpool(handle, form)

    return run


class FormEndpoint:
    """``await handle(form) -> Response`` behind a route (see :func:`blocking`).

    ``observe(form, error)`` is told the outcome of every parsed request (metrics)."""

    def __init__(
        self, handle: Callable[[FormRequest], Awaitable[Response]],
        observe: Callable[[FormRequest | None, OAuthError | None], None] | None = None,
    ) -> None:
        self._handle = handle
        self._observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._observe is None:
            form = await read_form(scope, receive)
            await send_json(send, await self._handle(form))
            return
        form_or_none: FormRequest | None = None
        try:
            form_or_none = await read_form(scope, receive)
            response = await self._handle(form_or_none)
        except OAuthError as error:
            self._observe(form_or_none, error)
            raise
        self._observe(form_or_none, None)
        await send_json(send, response)
