"""Credentials and clients per AWS account.

An account with a `role_arn` gets its own session whose credentials come from AssumeRole on that role and are
renewed by botocore before they expire (a bot runs for weeks; assumed-role credentials last an hour). An
account without one uses the default credential chain — and must be the default credentials' own account, so
that a resource is never read or changed under another account's name. Every client uses botocore's standard
retry mode and timeouts, honours AWS_ENDPOINT_URL, and counts the requests it makes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialProvider, DeferredRefreshableCredentials

from bot.adapters.providers.aws.errors import call
from bot.domain.errors import ProviderError
from bot.telemetry import count_aws_calls

ROLE_SESSION_NAME = "costbot"


class _AssumedRole(CredentialProvider):
    """Credentials from AssumeRole, fetched on first use and again before they expire."""

    METHOD = "costbot-assume-role"
    CANONICAL_NAME = "custom-costbot-assume-role"

    def __init__(self, fetch: Callable[[], dict[str, str]], clock: Callable[[], datetime] | None) -> None:
        super().__init__()
        self._fetch = fetch
        self._clock = clock

    def load(self) -> DeferredRefreshableCredentials:
        if self._clock is None:
            return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD)
        return DeferredRefreshableCredentials(refresh_using=self._fetch, method=self.METHOD, time_fetcher=self._clock)


class AccountSessions:
    """One boto3 session per account and one client per (account, region, service), made on first use."""

    def __init__(self, roles: Mapping[str, str | None], session_factory: Callable[[], Any] = boto3.session.Session,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.roles = dict(roles)  # account id -> role to assume (None: the default credentials); {}: default only
        self.session_factory = session_factory
        self.clock = clock  # when credentials count as expiring (tests move it on)
        self.config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)
        self._counts: Counter[str] = Counter()
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._sessions: dict[str, Any] = {}
        self._base: Any = None
        self._caller: str | None = None
        self._lock = threading.RLock()

    # -- requests made -------------------------------------------------------------------------------------
    def _count(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def requests(self) -> Counter[str]:
        """API requests made so far, by "service:Operation"."""
        with self._lock:
            return Counter(self._counts)

    def _counted(self, client: Any, service: str) -> Any:
        client.meta.events.register("before-call", lambda model, **_: self._count(f"{service}:{model.name}"))
        return count_aws_calls(client)

    # -- sessions --------------------------------------------------------------------------------------------
    def base(self) -> Any:
        """The default credential chain (and AssumeRole's caller)."""
        with self._lock:
            if self._base is None:
                self._base = self.session_factory()
            return self._base

    def caller_account(self) -> str:
        """The default credentials' own account (GetCallerIdentity, once)."""
        with self._lock:
            if self._caller is None:
                sts = self._counted(self.base().client("sts", config=self.config), "sts")
                self._caller = str(call("sts GetCallerIdentity", sts.get_caller_identity)["Account"])
            return self._caller

    def session(self, account: str) -> Any:
        with self._lock:
            if account in self._sessions:
                return self._sessions[account]
            role = self.roles.get(account)
            if role:
                session = self._assume(role)
            elif account == self.caller_account():
                session = self.base()
            else:
                raise ProviderError(f"account {account} has no role_arn and costbot's own credentials belong to "
                                    "another account: add the account's role_arn to the config")
            self._sessions[account] = session
            return session

    def _assume(self, role: str) -> Any:
        sts = self._counted(self.base().client("sts", config=self.config), "sts")

        def fetch() -> dict[str, str]:
            creds = call("sts AssumeRole", sts.assume_role, RoleArn=role,
                         RoleSessionName=ROLE_SESSION_NAME)["Credentials"]
            return {"access_key": creds["AccessKeyId"], "secret_key": creds["SecretAccessKey"],
                    "token": creds["SessionToken"], "expiry_time": creds["Expiration"].isoformat()}

        core = botocore.session.Session()
        core.get_component("credential_provider").insert_before("env", _AssumedRole(fetch, self.clock))
        return boto3.session.Session(botocore_session=core)

    def client(self, account: str, region: str, service: str) -> Any:
        key = (account, region, service)
        with self._lock:
            found = self._clients.get(key)
            if found is None:
                found = self._counted(self.session(account).client(service, region_name=region,
                                                                   config=self.config), service)
                self._clients[key] = found
            return found
