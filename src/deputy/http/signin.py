"""The browser side of sign-in: /authorize, the sign-in and consent pages, the user's grants,
and logout. The decisions live in :mod:`deputy.protocol.authorization`; this module reads
forms and cookies, checks CSRF tokens and renders pages.

Errors about the client or its redirect URI are shown on a page and never redirected
(RFC 6749 §4.1.2.1); every other error goes back to the client's redirect URI.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from collections.abc import Callable
from typing import ParamSpec
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from deputy.accounts import Session, SignInFailed, csrf_token, csrf_valid
from deputy.errors import NotFound, OAuthError
from deputy.http.pages import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    clear_cookie,
    client_ip,
    page,
    query_pairs,
    read_form,
    redirect,
    set_cookie,
)
from deputy.protocol.authorization import (
    ConsentScreen,
    NeedsSignIn,
    Outcome,
    Redirect,
    SignedInUser,
)
from deputy.protocol.authorization_request import (
    AuthorizationRequest,
    RedirectError,
    redirect_location,
)
from deputy.protocol.logout import LogoutRequest, parse_logout_request
from deputy.protocol.request import FormRequest
from deputy.runtime import Deputy

SIGNIN_FAILED = (
    "Sign-in failed. Check your username and password. After several failed attempts the account "
    "is locked for a while."
)
FORM_EXPIRED = "This form has expired or did not come from this page. Please try again."
SCOPE_WORDS = {
    "openid": "Know who you are (your username)",
    "profile": "See your name",
    "email": "See your email address",
    "offline_access": "Keep this access while you are away",
}
GRANTS_PATH = "/account/grants"
P = ParamSpec("P")


def _duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def _date(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%d %B %Y, %H:%M UTC")


_LOCAL_PATH = re.compile(r"^/[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*$")


def _next_path(value: str | None) -> str:
    """Where to go after signing in: the grants page or a console page, as a plain local path
    (never a URL: no open redirect); anything else is the grants page."""
    if value and _LOCAL_PATH.match(value) and (value == GRANTS_PATH or value == "/console" or value.startswith("/console/")):
        return value
    return GRANTS_PATH


def _pairs(form: FormRequest) -> list[tuple[str, str]]:
    return [(name, value) for name, values in form.params.items() for value in values]


def signin_routes(deputy: Deputy) -> list[BaseRoute]:
    settings = deputy.settings
    issuer = settings.issuer
    accounts = deputy.accounts
    endpoint = deputy.authorization

    def error_page(error: OAuthError) -> Response:
        response = page("error.html", status=error.status_code, message=error.description, error=error.error)
        if error.retry_after is not None:  # the store is unavailable: the browser may try again
            response.headers["Retry-After"] = str(error.retry_after)
        return response

    def who(session: Session | None) -> SignedInUser | None:
        return None if session is None else SignedInUser(session.username, session.auth_time)

    def signin_page(
        request: Request, *, authorize: AuthorizationRequest | None = None, next_path: str | None = None,
        error: str | None = None, username: str = "", status: int = 200,
    ) -> Response:
        secret = request.cookies.get(SIGNIN_COOKIE)
        fresh = not secret or len(secret) > 100
        if fresh:
            secret = secrets.token_urlsafe(32)
        assert secret is not None
        response = page(
            "signin.html", status=status, action=f"{issuer}/signin", csrf_token=csrf_token(secret, "signin"),
            authorize=authorize.query if authorize else None, client=authorize.client if authorize else None,
            next=next_path, error=error, username=username,
        )
        if fresh:
            set_cookie(response, settings, SIGNIN_COOKIE, secret, max_age=3600)
        return response

    def consent_page(screen: ConsentScreen, cookie: str) -> Response:
        client = screen.request.client
        user = screen.user
        permissions = [SCOPE_WORDS[s] for s in ("openid", "profile", "email") if s in screen.scopes]
        api = [s for s in screen.scopes if s not in SCOPE_WORDS]
        if api:
            permissions.insert(0, "Use these permissions: " + ", ".join(api))
        if "offline_access" in screen.scopes:
            permissions.append(SCOPE_WORDS["offline_access"])
        redirect_host = screen.request.redirect_uri.split("?")[0]
        now = deputy.store.clock.now()
        return page(
            "consent.html", action=f"{issuer}/authorize/consent", csrf_token=csrf_token(cookie, "consent"),
            authorize=screen.request.query, client_name=client.name or client.client_id, client_id=client.client_id,
            user_name=user.display_name or user.username, username=user.username, resource=screen.resource,
            reachable=screen.reachable, permissions=permissions, token_lifetime=_duration(screen.token_ttl),
            consent_lifetime=_duration(screen.consent_ttl), consent_until=_date(now + screen.consent_ttl),
            grants_url=f"{issuer}{GRANTS_PATH}", redirect_host=redirect_host,
        )

    def respond(request: Request, outcome: Outcome, cookie: str | None, status: int) -> Response:
        if isinstance(outcome, NeedsSignIn):
            return signin_page(request, authorize=outcome.request)
        if isinstance(outcome, ConsentScreen):
            assert cookie is not None
            return consent_page(outcome, cookie)
        assert isinstance(outcome, Redirect)
        return redirect(outcome.location, status)

    def guarded(fn: Callable[P, Response]) -> Callable[P, Response]:
        """Errors of the authorization request: shown, or sent to the verified redirect URI."""

        def run(*args: P.args, **kwargs: P.kwargs) -> Response:
            try:
                return fn(*args, **kwargs)
            except RedirectError as exc:
                return redirect(redirect_location(exc, issuer), 302)
            except OAuthError as exc:
                return error_page(exc)

        return run

    # -- /authorize --------------------------------------------------------------------------------
    @guarded
    def _authorize(request: Request, pairs: list[tuple[str, str]]) -> Response:
        auth_request = endpoint.parse(pairs)
        cookie = request.cookies.get(SESSION_COOKIE)
        outcome = endpoint.decide(auth_request, who(accounts.session(cookie)))
        return respond(request, outcome, cookie, 302)

    async def authorize(request: Request) -> Response:
        pairs = query_pairs(request) if request.method == "GET" else _pairs(await read_form(request))
        response: Response = await run_in_threadpool(_authorize, request, pairs)
        return response

    # -- /signin -------------------------------------------------------------------------------------
    async def signin_get(request: Request) -> Response:
        next_path = _next_path(request.query_params.get("next"))
        session = await run_in_threadpool(accounts.session, request.cookies.get(SESSION_COOKIE))
        if session is not None:
            return redirect(f"{issuer}{next_path}")
        return signin_page(request, next_path=next_path)

    @guarded
    def _signin_post(request: Request, form: FormRequest) -> Response:
        raw_authorize = form.one("authorize")
        auth_request = endpoint.parse(parse_qsl(raw_authorize, keep_blank_values=True)) if raw_authorize else None
        next_path = _next_path(form.one("next"))
        if not csrf_valid(request.cookies.get(SIGNIN_COOKIE), "signin", form.one("csrf_token")):
            return signin_page(request, authorize=auth_request, next_path=next_path, error=FORM_EXPIRED, status=400)
        username = form.one("username") or ""
        try:
            signed = accounts.sign_in(username, form.one("password") or "", client_ip(request))
        except SignInFailed:
            return signin_page(
                request, authorize=auth_request, next_path=next_path, error=SIGNIN_FAILED, username=username, status=401
            )
        accounts.end_session(request.cookies.get(SESSION_COOKIE))  # a new sign-in replaces the old session
        if auth_request is not None:
            outcome = endpoint.decide(auth_request, who(signed.session), just_signed_in=True)
            response = respond(request, outcome, signed.cookie, 303)
        else:
            response = redirect(f"{issuer}{next_path}")
        set_cookie(response, settings, SESSION_COOKIE, signed.cookie, max_age=settings.session_ttl)
        clear_cookie(response, settings, SIGNIN_COOKIE)
        return response

    async def signin_post(request: Request) -> Response:
        form = await read_form(request)
        response: Response = await run_in_threadpool(_signin_post, request, form)
        return response

    # -- /authorize/consent ---------------------------------------------------------------------------
    @guarded
    def _consent(request: Request, form: FormRequest) -> Response:
        raw_authorize = form.one("authorize") or ""
        auth_request = endpoint.parse(parse_qsl(raw_authorize, keep_blank_values=True))
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.session(cookie)
        if session is None:
            return signin_page(request, authorize=auth_request)
        if not csrf_valid(cookie, "consent", form.one("csrf_token")):
            return page("error.html", status=403, message=FORM_EXPIRED, error="invalid_request")
        decision = form.one("decision")
        signed_in = SignedInUser(session.username, session.auth_time)
        if decision == "approve":
            return redirect(endpoint.approve(auth_request, signed_in).location)
        if decision == "deny":
            return redirect(endpoint.deny(auth_request, signed_in).location)
        return page("error.html", status=400, message="Choose Allow or Deny.", error="invalid_request")

    async def consent(request: Request) -> Response:
        form = await read_form(request)
        response: Response = await run_in_threadpool(_consent, request, form)
        return response

    # -- /account/grants ----------------------------------------------------------------------------
    def _grants(request: Request) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.session(cookie)
        if session is None or cookie is None:
            return redirect(f"{issuer}/signin?next={GRANTS_PATH}")
        user = deputy.store.realm.get_user(session.username)
        rows = []
        for consent in deputy.store.consents.list_consents(session.username):
            agent = deputy.store.realm.get_agent(consent.client_id)
            resource = deputy.store.realm.get_resource(consent.resource) if consent.resource else None
            rows.append({
                "consent_id": consent.consent_id,
                "client_name": (agent.name if agent and agent.name else consent.client_id),
                "resource": (resource.name or resource.identifier) if resource else consent.resource,
                "scopes": list(consent.scopes),
                "since": _date(consent.created_at),
                "until": _date(consent.expires_at) if consent.expires_at else None,
                "withdraw_url": f"{issuer}{GRANTS_PATH}/{consent.consent_id}/withdraw",
            })
        notice = "The grant was withdrawn." if request.query_params.get("withdrawn") else None
        return page(
            "grants.html", grants=rows, csrf_token=csrf_token(cookie, "grants"), logout_csrf=csrf_token(cookie, "logout"),
            logout_url=f"{issuer}/logout", user_name=(user.display_name or user.username) if user else session.username,
            notice=notice,
        )

    async def grants(request: Request) -> Response:
        response: Response = await run_in_threadpool(_grants, request)
        return response

    def _withdraw(request: Request, form: FormRequest) -> Response:
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.session(cookie)
        if session is None:
            return redirect(f"{issuer}/signin?next={GRANTS_PATH}")
        if not csrf_valid(cookie, "grants", form.one("csrf_token")):
            return page("error.html", status=403, message=FORM_EXPIRED, error="invalid_request")
        try:
            deputy.admin(f"user:{session.username}").withdraw_consent(
                str(request.path_params["consent_id"]), by_user=session.username
            )
        except NotFound:
            return page("error.html", status=404, message="No such grant.", error="not_found")
        return redirect(f"{issuer}{GRANTS_PATH}?withdrawn=1")

    async def withdraw(request: Request) -> Response:
        form = await read_form(request)
        response: Response = await run_in_threadpool(_withdraw, request, form)
        return response

    # -- /logout (RP-initiated logout) ---------------------------------------------------------------
    def _logout_request(values: FormRequest) -> LogoutRequest:
        return parse_logout_request(
            deputy.context, client_id=values.one("client_id"), id_token_hint=values.one("id_token_hint"),
            post_logout_redirect_uri=values.one("post_logout_redirect_uri"), state=values.one("state"),
        )

    @guarded
    def _logout_get(request: Request) -> Response:
        logout = _logout_request(FormRequest.from_pairs(query_pairs(request)))
        cookie = request.cookies.get(SESSION_COOKIE)
        session = accounts.session(cookie)
        if session is None or cookie is None:
            location = logout.location()
            return redirect(location) if location else page("logout.html", signed_in=False)
        user = deputy.store.realm.get_user(session.username)
        return page(
            "logout.html", signed_in=True, action=f"{issuer}/logout", csrf_token=csrf_token(cookie, "logout"),
            user_name=(user.display_name or user.username) if user else session.username,
            client_name=(logout.client.name or logout.client.client_id) if logout.client else None,
            client_id=logout.client.client_id if logout.client else None,
            post_logout_redirect_uri=logout.post_logout_redirect_uri, state=logout.state,
            grants_url=f"{issuer}{GRANTS_PATH}",
        )

    async def logout_get(request: Request) -> Response:
        response: Response = await run_in_threadpool(_logout_get, request)
        return response

    @guarded
    def _logout_post(request: Request, form: FormRequest) -> Response:
        logout = _logout_request(form)
        cookie = request.cookies.get(SESSION_COOKIE)
        if accounts.session(cookie) is not None:
            if not csrf_valid(cookie, "logout", form.one("csrf_token")):
                return page("error.html", status=403, message=FORM_EXPIRED, error="invalid_request")
            accounts.end_session(cookie)
        location = logout.location()
        response = redirect(location) if location else page("logout.html", signed_in=False)
        clear_cookie(response, settings, SESSION_COOKIE)
        return response

    async def logout_post(request: Request) -> Response:
        form = await read_form(request)
        response: Response = await run_in_threadpool(_logout_post, request, form)
        return response

    return [
        Route("/authorize", authorize, methods=["GET", "POST"]),
        Route("/authorize/consent", consent, methods=["POST"]),
        Route("/signin", signin_get, methods=["GET"]),
        Route("/signin", signin_post, methods=["POST"]),
        Route(GRANTS_PATH, grants, methods=["GET"]),
        Route(GRANTS_PATH + "/{consent_id}/withdraw", withdraw, methods=["POST"]),
        Route("/logout", logout_get, methods=["GET"]),
        Route("/logout", logout_post, methods=["POST"]),
    ]


__all__ = ["signin_routes"]
