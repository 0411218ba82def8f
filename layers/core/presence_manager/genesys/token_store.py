"""One Genesys Cloud OAuth token for the whole deployment, shared by every Lambda through the agent table.

Genesys rate-limits per token, and every warm container fetching its own token multiplies logins and hides the
budget. So the deployment keeps ONE client-credentials token in one item, ``pk = TOKEN#<name>``:

- ``ciphertext``: the token encrypted with AWS KMS (``Encrypt`` with the key given to the constructor and an
  encryption context naming the item): the table never holds the token in clear;
- ``expiresAt`` (epoch seconds, the table's TTL attribute: an expired token's item may simply disappear),
  ``refreshAt`` (when to refresh it: 5 minutes, or a tenth of its lifetime when that is shorter, before it expires)
  and ``refreshedAt``;
- ``lockOwner`` / ``lockExpiresAt``: the refresh lock (10 s), so that exactly one writer refreshes.

Reading: a warm container keeps the decrypted token in memory until its ``refreshAt`` and makes no AWS call at all
per request; when it needs the stored token it reads the item (one consistent ``GetItem``) and decrypts it once per
ciphertext (the decrypt result is cached by ciphertext), so a warm Lambda makes no KMS call per request either.

Refreshing (``token(fetch)``): when the stored token is missing, due for refresh, expired, or rejected by Genesys
(a 401, see ``reject``), the caller takes the lock with a conditional update that also requires the item to still
hold the ciphertext it judged stale (a compare-and-swap: someone else's fresh token makes the lock attempt fail and
is used instead, read from the failure's ``ALL_OLD``, with no extra read). The lock holder fetches, encrypts, stores
and releases in one update. A caller that finds the lock held returns the current token at once when it is still
valid for ``min_ttl_seconds`` (a refresh is proactive: waiting would only add latency); with no usable token it
polls the item (every ``poll_seconds``, up to ``wait_seconds``) for the new one and then raises
``GenesysUnavailable`` (the state machine retries). A KMS or table failure while storing never loses a freshly
fetched token: it is used by this container and the next caller refreshes the item; with the table unreachable
each container logs in by itself and keeps its token in memory (degraded, not down). A stored token KMS cannot
decrypt is treated as due for refresh.

Secrets: the token and its ciphertext never appear in an exception message or a log line of ours, and a log record
filter redacts them from everybody else's (botocore logs request and response bodies at DEBUG: KMS ``Plaintext``
and ``CiphertextBlob``, DynamoDB binary values) - see ``_Redactor``."""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from presence_manager.errors import GenesysUnavailable

logger = logging.getLogger(__name__)

TOKEN_KEY_PREFIX = "TOKEN#"
#: Refresh this long before expiry (or a tenth of the token's lifetime, when that is shorter).
REFRESH_MARGIN_SECONDS = 300
#: A token handed out must stay valid at least this long (a Genesys call, retries included, takes at most 20 s).
MIN_TTL_SECONDS = 30
LOCK_SECONDS = 10
WAIT_SECONDS = 3.0
POLL_SECONDS = 0.1
#: Decrypted tokens kept per container, by ciphertext (the current one and the few before it).
DECRYPT_CACHE_SIZE = 4
REDACTED = "[redacted]"

Fetch = Callable[[], tuple[str, int]]


class _TableUnavailable(Exception):
    """The agent table could not be read or written (not a failed condition)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class _Stored:
    """The item's token, as stored (still encrypted)."""

    ciphertext: bytes = field(repr=False)
    expires_at: float
    refresh_at: float

    def valid_for(self, now: float, seconds: float) -> bool:
        return self.expires_at - now >= seconds


class SharedTokenStore:
    """The deployment's one Genesys token (see the module docstring). One instance per warm container."""

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        kms: Any,
        key_id: str,
        *,
        name: str = "genesys",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        refresh_margin_seconds: int = REFRESH_MARGIN_SECONDS,
        lock_seconds: int = LOCK_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._table = dynamodb.Table(table_name)
        self._conditional_failed = self._table.meta.client.exceptions.ConditionalCheckFailedException
        self._kms = kms
        self._key_id = key_id
        self._pk = f"{TOKEN_KEY_PREFIX}{name}"
        self._context = {"purpose": "genesys-oauth-token", "item": self._pk}
        self._clock = clock
        self._sleep = sleep
        self._refresh_margin = refresh_margin_seconds
        self._lock_seconds = lock_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._lock = threading.RLock()  # one refresher per container; its other threads wait for its result
        self._current: _Stored | None = None  # the token this container uses (decrypted value in ``_plain``)
        self._plain: OrderedDict[bytes, str] = OrderedDict()  # ciphertext -> token
        self._rejected: set[bytes] = set()  # ciphertexts of tokens Genesys refused (401)
        REDACTOR.install()

    # ---- public API ------------------------------------------------------------------------------------------------

    def get(self, min_ttl_seconds: int = MIN_TTL_SECONDS) -> str | None:
        """The shared token when one is valid for at least ``min_ttl_seconds`` (never refreshes), else ``None``."""
        with self._lock:
            now = self._clock()
            value = self._in_memory(min_ttl_seconds, fresh=False)
            if value is not None:
                return value
            try:
                stored = self._read()
            except _TableUnavailable as exc:
                logger.warning("the shared Genesys token could not be read (%s)", exc.code)
                return None
            if stored is not None and self._usable(stored, now, min_ttl_seconds):
                value = self._decrypt(stored)
                if value is not None:
                    self._current = stored
                    return value
            return None

    def token(self, fetch: Fetch, *, min_ttl_seconds: int = MIN_TTL_SECONDS) -> str:
        """The shared token; refreshed first (by one writer for the whole deployment, calling ``fetch`` for a new
        ``(access_token, expires_in)``) when it is missing, due for refresh, expired or rejected."""
        value = self._in_memory(min_ttl_seconds, fresh=True)
        if value is not None:
            return value
        if not self._lock.acquire(blocking=False):
            # Another thread of this container is refreshing: a token still valid needs no waiting for.
            value = self._in_memory(min_ttl_seconds, fresh=False)
            if value is not None:
                return value
            self._lock.acquire()
        try:
            value = self._in_memory(min_ttl_seconds, fresh=True)
            if value is not None:
                return value
            try:
                return self._token_from_table(fetch, min_ttl_seconds)
            except _TableUnavailable as exc:
                # Degraded, not down: this container logs in by itself and keeps its token in memory.
                logger.warning("the shared Genesys token table is unavailable (%s): logging in unshared", exc.code)
                access_token, expires_in = self._login(fetch)
                expires_at, refresh_at = self._schedule(expires_in)
                return self._remember_unstored(access_token, expires_at, refresh_at)
        finally:
            self._lock.release()

    def _in_memory(self, min_ttl: int, *, fresh: bool) -> str | None:
        """This container's token when it is fresh (or, ``fresh=False``, merely valid) for ``min_ttl``."""
        current = self._current
        if current is None:
            return None
        now = self._clock()
        if not (self._fresh(current, now, min_ttl) if fresh else self._usable(current, now, min_ttl)):
            return None
        return self._plain.get(current.ciphertext)

    def reject(self, access_token: str) -> None:
        """Genesys refused ``access_token`` (401): never hand it out again; the next ``token`` call refreshes the
        stored token unless another Lambda already did."""
        with self._lock:
            for ciphertext, value in self._plain.items():
                if value == access_token:
                    self._rejected.add(ciphertext)
            if self._current is not None and self._current.ciphertext in self._rejected:
                self._current = None

    # ---- refresh protocol ----------------------------------------------------------------------------------------

    def _token_from_table(self, fetch: Fetch, min_ttl: int) -> str:
        deadline = self._clock() + self._wait_seconds
        stored = self._read()
        while True:
            now = self._clock()
            if stored is not None and self._fresh(stored, now, min_ttl):
                value = self._decrypt(stored)
                if value is not None:
                    self._current = stored
                    return value
            owner = uuid.uuid4().hex
            locked, stored = self._try_lock(owner, stored, now)
            if locked:
                return self._refresh(fetch, owner)
            if stored is not None and self._usable(stored, now, min_ttl):
                # Someone else refreshed it meanwhile, or is refreshing a token that is still valid: use it.
                value = self._decrypt(stored)
                if value is not None:
                    self._current = stored
                    return value
            if self._clock() >= deadline:
                raise GenesysUnavailable(
                    "no valid shared Genesys token: another worker is refreshing it and it did not appear in "
                    f"{self._wait_seconds:g} s",
                    path="/oauth/token",
                    retryAfterSeconds=max(1, self._lock_seconds // 2),
                )
            self._sleep(self._poll_seconds)
            stored = self._read()

    def _try_lock(self, owner: str, seen: _Stored | None, now: float) -> tuple[bool, _Stored | None]:
        """Take the refresh lock if it is free and the item still holds ``seen`` (the token judged stale).
        Not taken: the item as it is now (from the failed condition), to decide with no further read."""
        condition = "(attribute_not_exists(lockExpiresAt) OR lockExpiresAt <= :now) AND "
        values: dict[str, Any] = {":now": int(now), ":owner": owner, ":until": int(now) + self._lock_seconds}
        if seen is None:
            condition += "attribute_not_exists(ciphertext)"
        else:
            condition += "ciphertext = :seenCiphertext"
            values[":seenCiphertext"] = seen.ciphertext
        try:
            self._table.update_item(
                Key={"pk": self._pk},
                UpdateExpression="SET lockOwner = :owner, lockExpiresAt = :until",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._conditional_failed as exc:
            return False, self._parse_low_level(exc.response.get("Item") or {})
        except (ClientError, BotoCoreError) as exc:
            raise _TableUnavailable(_error_code(exc)) from None
        return True, seen

    def _login(self, fetch: Fetch) -> tuple[str, int]:
        access_token, expires_in = fetch()
        if not access_token or expires_in <= 0:
            raise GenesysUnavailable("the token endpoint answered without a usable token", path="/oauth/token")
        REDACTOR.add_token(access_token)
        return access_token, int(expires_in)

    def _schedule(self, expires_in: int) -> tuple[int, int]:
        """``(expiresAt, refreshAt)`` of a token issued now."""
        expires_at = int(self._clock() + expires_in)
        return expires_at, expires_at - min(self._refresh_margin, expires_in // 10)

    def _refresh(self, fetch: Fetch, owner: str) -> str:
        try:
            access_token, expires_in = self._login(fetch)
        except BaseException:
            self._release(owner)
            raise
        now = self._clock()
        expires_at, refresh_at = self._schedule(expires_in)
        ciphertext = self._encrypt(access_token)
        if ciphertext is None:  # KMS refused: this container uses the token; the item stays as it was
            self._release(owner)
            return self._remember_unstored(access_token, expires_at, refresh_at)
        stored = _Stored(ciphertext=ciphertext, expires_at=expires_at, refresh_at=refresh_at)
        self._cache_plain(ciphertext, access_token)
        try:
            self._table.update_item(
                Key={"pk": self._pk},
                UpdateExpression=(
                    "SET ciphertext = :ciphertext, expiresAt = :expires, refreshAt = :refresh, refreshedAt = :now "
                    "REMOVE lockOwner, lockExpiresAt"
                ),
                # Ours to write while we hold the lock; without it (it expired and was taken over) only if our
                # token outlives the stored one.
                ConditionExpression="lockOwner = :owner OR attribute_not_exists(expiresAt) OR expiresAt < :expires",
                ExpressionAttributeValues={
                    ":ciphertext": ciphertext,
                    ":expires": expires_at,
                    ":refresh": refresh_at,
                    ":now": int(now),
                    ":owner": owner,
                },
            )
        except self._conditional_failed:
            logger.info("a newer shared Genesys token was stored meanwhile; this container keeps the one it fetched")
        except Exception as exc:  # the table is unavailable: the token is still good for this container
            logger.warning("could not store the shared Genesys token (%s)", _error_code(exc))
            self._release(owner)
        self._current = stored
        return access_token

    def _release(self, owner: str) -> None:
        try:
            self._table.update_item(
                Key={"pk": self._pk},
                UpdateExpression="REMOVE lockOwner, lockExpiresAt",
                ConditionExpression="lockOwner = :owner",
                ExpressionAttributeValues={":owner": owner},
            )
        except Exception as exc:  # not ours any more, or the table is down: the lock expires by itself
            logger.debug("shared Genesys token lock not released (%s)", _error_code(exc))

    def _remember_unstored(self, access_token: str, expires_at: int, refresh_at: int) -> str:
        """A token this container could not encrypt: kept in memory only, under a local marker."""
        marker = b"local:" + uuid.uuid4().bytes
        self._cache_plain(marker, access_token)
        self._current = _Stored(ciphertext=marker, expires_at=expires_at, refresh_at=refresh_at)
        return access_token

    # ---- storage and KMS -------------------------------------------------------------------------------------------

    def _read(self) -> _Stored | None:
        try:
            item = self._table.get_item(Key={"pk": self._pk}, ConsistentRead=True).get("Item") or {}
        except (ClientError, BotoCoreError) as exc:
            raise _TableUnavailable(_error_code(exc)) from None
        if "ciphertext" not in item or "expiresAt" not in item:
            return None
        ciphertext = bytes(item["ciphertext"].value)
        REDACTOR.add_ciphertext(ciphertext)
        expires_at = float(item["expiresAt"])
        return _Stored(ciphertext, expires_at, float(item.get("refreshAt", expires_at)))

    def _parse_low_level(self, item: dict[str, Any]) -> _Stored | None:
        if "ciphertext" not in item or "expiresAt" not in item:
            return None
        ciphertext = bytes(item["ciphertext"]["B"])
        REDACTOR.add_ciphertext(ciphertext)
        expires_at = float(item["expiresAt"]["N"])
        refresh_at = float(item["refreshAt"]["N"]) if "refreshAt" in item else expires_at
        return _Stored(ciphertext, expires_at, refresh_at)

    def _encrypt(self, access_token: str) -> bytes | None:
        try:
            answer = self._kms.encrypt(
                KeyId=self._key_id, Plaintext=access_token.encode(), EncryptionContext=self._context
            )
        except Exception as exc:
            logger.warning("could not encrypt the shared Genesys token with KMS (%s)", _error_code(exc))
            return None
        ciphertext = bytes(answer["CiphertextBlob"])
        REDACTOR.add_ciphertext(ciphertext)
        return ciphertext

    def _decrypt(self, stored: _Stored) -> str | None:
        """The token in ``stored``; one KMS call per ciphertext per container. ``None`` when KMS cannot decrypt
        it (the token is then treated as unusable and refreshed)."""
        value = self._plain.get(stored.ciphertext)
        if value is not None:
            self._plain.move_to_end(stored.ciphertext)
            return value
        try:
            answer = self._kms.decrypt(
                CiphertextBlob=stored.ciphertext, KeyId=self._key_id, EncryptionContext=self._context
            )
        except Exception as exc:
            logger.warning("could not decrypt the shared Genesys token with KMS (%s)", _error_code(exc))
            self._rejected.add(stored.ciphertext)
            return None
        value = bytes(answer["Plaintext"]).decode()
        REDACTOR.add_token(value)
        self._cache_plain(stored.ciphertext, value)
        return value

    def _cache_plain(self, ciphertext: bytes, value: str) -> None:
        self._plain[ciphertext] = value
        self._plain.move_to_end(ciphertext)
        while len(self._plain) > DECRYPT_CACHE_SIZE:
            self._plain.popitem(last=False)

    # ---- freshness -------------------------------------------------------------------------------------------------

    def _usable(self, stored: _Stored, now: float, min_ttl: float) -> bool:
        return stored.ciphertext not in self._rejected and stored.valid_for(now, min_ttl)

    def _fresh(self, stored: _Stored, now: float, min_ttl: float) -> bool:
        return self._usable(stored, now, min_ttl) and now < stored.refresh_at


def _error_code(exc: Exception) -> str:
    """What went wrong, without the message (an AWS error message may quote request data)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


# ---- log redaction ---------------------------------------------------------------------------------------------------

#: Secret-bearing fields in what botocore and boto3 log at DEBUG: KMS ``Plaintext``/``CiphertextBlob`` in JSON
#: bodies, a DynamoDB binary value of any attribute or expression value named like ``ciphertext`` in JSON bodies
#: (``"ciphertext": {"B": "..."}``) and in the parameters and parsed responses boto3's resources log as Python
#: reprs (``'ciphertext': Binary(b'...')``, ``':ciphertext': b'...'``).
_FIELD_PATTERNS = (
    re.compile(r'("(?:Plaintext|CiphertextBlob)"\s*:\s*")[^"]*(")'),
    re.compile(r'("[^"]*[Cc]iphertext[^"]*"\s*:\s*\{\s*"B"\s*:\s*")[^"]*(")'),
    re.compile(
        r"""('[^']*(?:[Cc]iphertext|Plaintext)[^']*'\s*:\s*(?:Binary\()?b)"""
        r"""(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")()"""
    ),
)


class _Redactor:
    """A log record factory that removes the shared token and its ciphertext from every log record's message.

    It wraps the previous factory (installed once per process, composes with others) and runs only for records
    that are actually emitted: at INFO it costs nothing for botocore's DEBUG lines. Known values are replaced in
    their raw, base64 and JSON-escaped forms, and the secret-bearing fields above are blanked whatever they hold
    (a response body is logged before anybody has seen the secret in it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: deque[str] = deque(maxlen=32)
        self._snapshot: tuple[str, ...] = ()
        self._previous: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        with self._lock:
            if self._previous is None:
                self._previous = logging.getLogRecordFactory()
                logging.setLogRecordFactory(self._make_record)

    def add_token(self, value: str) -> None:
        self._add(value, base64.b64encode(value.encode()).decode())

    def add_ciphertext(self, ciphertext: bytes) -> None:
        # base64 in request/response bodies; the bytes' repr where boto3 logs parsed values (``Binary(b'...')``).
        self._add(base64.b64encode(ciphertext).decode(), repr(ciphertext)[2:-1])

    def _add(self, *values: str) -> None:
        with self._lock:
            for value in values:
                for form in (value, value.replace("/", "\\/"), value.replace("/", "\\\\/")):
                    if form and form not in self._values:
                        self._values.append(form)
            # Longest first, so that a value is never half-replaced by a shorter one it contains.
            self._snapshot = tuple(sorted(self._values, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for pattern in _FIELD_PATTERNS:
            text = pattern.sub(rf"\g<1>{REDACTED}\g<2>", text)
        for value in self._snapshot:
            if value in text:
                text = text.replace(value, REDACTED)
        return text

    def _make_record(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        assert self._previous is not None
        record = self._previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business
            return record
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return record


REDACTOR = _Redactor()
