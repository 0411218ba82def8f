"""The deployment's one shared Genesys token: KMS-encrypted in the template's agent table (moto), one refresher."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from presence_manager.errors import GenesysUnavailable
from presence_manager.genesys.token_store import REDACTOR, SharedTokenStore
from tests.aws_tables import create_table_from_template, mocked_aws_environment

TABLE = "agents"
KEY = {"pk": "TOKEN#genesys"}


@dataclass
class Aws:
    dynamodb: Any
    kms: Any
    key_id: str

    def store(self, **kwargs: Any) -> SharedTokenStore:
        """One warm container's store."""
        return SharedTokenStore(self.dynamodb, TABLE, self.kms, self.key_id, **kwargs)

    def raw_item(self) -> dict[str, Any]:
        """The item as DynamoDB holds it (plain client, no resource type conversion)."""
        return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": KEY["pk"]}}, ConsistentRead=True)[
            "Item"
        ]

    def hold_lock(self, owner: str, until: float) -> None:
        """Another worker is refreshing (it took the lock)."""
        self.dynamodb.Table(TABLE).update_item(
            Key=KEY,
            UpdateExpression="SET lockOwner = :owner, lockExpiresAt = :until",
            ExpressionAttributeValues={":owner": owner, ":until": int(until)},
        )

    def store_as_other_writer(self, access_token: str, expires_at: int) -> None:
        """What the lock holder writes when its refresh is done."""
        context = {"purpose": "genesys-oauth-token", "item": KEY["pk"]}
        blob = self.kms.encrypt(KeyId=self.key_id, Plaintext=access_token.encode(), EncryptionContext=context)
        self.dynamodb.Table(TABLE).update_item(
            Key=KEY,
            UpdateExpression="SET ciphertext = :c, expiresAt = :e, refreshAt = :r REMOVE lockOwner, lockExpiresAt",
            ExpressionAttributeValues={":c": blob["CiphertextBlob"], ":e": expires_at, ":r": expires_at - 300},
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    mocked_aws_environment(monkeypatch)
    # DynamoDB applies a conditional write to an item atomically; moto's in-process backend does not when called from
    # several threads, so the item operations are serialised here to give the threaded tests DynamoDB's guarantee.
    serial = threading.Lock()
    for name in ("get_item", "put_item", "update_item"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: Any, *args: Any, __original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with serial:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)
    with mock_aws():
        resource = boto3.resource("dynamodb")
        create_table_from_template(resource, "AgentTable", TABLE)
        kms = boto3.client("kms")
        yield Aws(resource, kms, kms.create_key(Description="genesys token")["KeyMetadata"]["KeyId"])


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Fetcher:
    """The token endpoint: hands out ``token-1``, ``token-2``, ... (optionally slowly) and counts the logins."""

    def __init__(self, expires_in: int = 86400, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> tuple[str, int]:
        with self._lock:
            self.calls += 1
            value = f"eyJ-secret-token/{self.calls}+x=="
        if self.delay:
            time.sleep(self.delay)
        return value, self.expires_in


def break_kms(kms: Any) -> Callable[[], None]:
    """KMS refuses every Encrypt and Decrypt the way it does for a disabled key (moto does not enforce key states).
    Returns the repair."""

    def refuse(model: Any, **_: Any) -> None:
        error = {"Code": "DisabledException", "Message": "arn:aws:kms:us-east-1:123456789012:key/k is disabled."}
        raise ClientError({"Error": error}, model.name)

    for operation in ("Encrypt", "Decrypt"):
        kms.meta.events.register(f"before-call.kms.{operation}", refuse, unique_id=f"break-{operation}")

    def repair() -> None:
        for operation in ("Encrypt", "Decrypt"):
            kms.meta.events.unregister(f"before-call.kms.{operation}", unique_id=f"break-{operation}")

    return repair


def count_calls(client: Any, service: str) -> list[str]:
    calls: list[str] = []
    client.meta.events.register(
        f"before-call.{service}.*", lambda model, **_: calls.append(model.name), unique_id=f"count-{id(calls)}"
    )
    return calls


# ---- storage ---------------------------------------------------------------------------------------------------------


def test_given_no_token_then_the_first_caller_fetches_it_and_stores_it_encrypted_with_kms(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher(expires_in=86400)
    store = aws.store(clock=clock)
    assert store.get() is None
    token = store.token(fetch)
    assert token == "eyJ-secret-token/1+x=="
    assert fetch.calls == 1

    item = aws.raw_item()
    assert set(item) == {"pk", "ciphertext", "expiresAt", "refreshAt", "refreshedAt"}, "the lock is released"
    assert int(item["expiresAt"]["N"]) == int(clock()) + 86400, "the table's TTL attribute: the token's expiry"
    assert int(item["refreshAt"]["N"]) == int(clock()) + 86400 - 300, "refreshed 5 minutes before it expires"
    flat = repr(item).encode()
    for form in (token.encode(), base64.b64encode(token.encode()), token.encode().hex().encode()):
        assert form not in flat, "the table never holds the token in clear"
    assert token.encode() not in item["ciphertext"]["B"]
    context = {"purpose": "genesys-oauth-token", "item": KEY["pk"]}
    clear = aws.kms.decrypt(CiphertextBlob=item["ciphertext"]["B"], KeyId=aws.key_id, EncryptionContext=context)
    assert clear["Plaintext"] == token.encode(), "KMS ciphertext, bound to this item by its encryption context"
    with pytest.raises(aws.kms.exceptions.InvalidCiphertextException):
        aws.kms.decrypt(CiphertextBlob=item["ciphertext"]["B"], KeyId=aws.key_id)

    assert aws.store(clock=clock).get() == token, "another container reads the same token"


def test_given_a_warm_container_then_a_request_makes_no_dynamodb_and_no_kms_call(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher()
    aws.store(clock=clock).token(fetch)
    table_calls = count_calls(aws.dynamodb.meta.client, "dynamodb")
    kms_calls = count_calls(aws.kms, "kms")

    other_container = aws.store(clock=clock)
    assert other_container.token(fetch) == "eyJ-secret-token/1+x=="
    assert (table_calls, kms_calls) == (["GetItem"], ["Decrypt"]), "a cold container: one read, one decrypt"
    for _ in range(50):
        clock.sleep(60)
        assert other_container.token(fetch) == "eyJ-secret-token/1+x=="
        assert other_container.get() == "eyJ-secret-token/1+x=="
    assert (table_calls, kms_calls) == (["GetItem"], ["Decrypt"]), "warm: neither table nor KMS per request"
    assert fetch.calls == 1


def test_given_many_concurrent_callers_in_several_containers_then_the_token_is_fetched_once(aws: Aws) -> None:
    fetch = Fetcher(delay=0.3)  # a slow login: every other caller arrives while it runs
    containers = [aws.store(poll_seconds=0.02) for _ in range(4)]
    start = threading.Barrier(12)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def caller(store: SharedTokenStore) -> None:
        start.wait()
        try:
            value = store.token(fetch)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=caller, args=(containers[i % 4],)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert fetch.calls == 1, "one writer for the whole deployment"
    assert results == ["eyJ-secret-token/1+x=="] * 12


# ---- refresh ---------------------------------------------------------------------------------------------------------


def test_given_a_token_near_its_expiry_then_it_is_refreshed_before_it_expires_and_others_pick_the_new_one(
    aws: Aws,
) -> None:
    clock = FakeClock()
    fetch = Fetcher(expires_in=3600)
    store, other_container = aws.store(clock=clock), aws.store(clock=clock)
    issued = clock()
    assert store.token(fetch) == "eyJ-secret-token/1+x=="
    assert other_container.token(fetch) == "eyJ-secret-token/1+x=="

    clock.now = issued + 3600 - 301
    assert store.token(fetch) == "eyJ-secret-token/1+x==", "not yet due"
    assert fetch.calls == 1
    clock.now = issued + 3600 - 299
    assert store.token(fetch) == "eyJ-secret-token/2+x==", "refreshed while the old one still has 5 minutes"
    assert other_container.token(fetch) == "eyJ-secret-token/2+x==", "read from the table, not fetched again"
    assert fetch.calls == 2
    assert int(aws.raw_item()["expiresAt"]["N"]) == int(clock()) + 3600


def test_given_a_short_lived_token_then_it_is_refreshed_a_tenth_of_its_lifetime_before_expiry(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher(expires_in=600)
    store = aws.store(clock=clock)
    issued = clock()
    store.token(fetch)
    clock.now = issued + 539
    assert store.token(fetch) == "eyJ-secret-token/1+x=="
    clock.now = issued + 541
    assert store.token(fetch) == "eyJ-secret-token/2+x=="


def test_given_the_lock_held_while_the_old_token_is_still_valid_then_the_old_one_is_used_at_once(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher(expires_in=3600)
    aws.store(clock=clock).token(fetch)
    clock.now += 3600 - 120  # due for refresh, valid for two more minutes
    aws.hold_lock("another-lambda", clock() + 10)
    sleeps: list[float] = []
    store = aws.store(clock=clock, sleep=sleeps.append)
    assert store.token(fetch) == "eyJ-secret-token/1+x=="
    assert (fetch.calls, sleeps) == (1, []), "no second login, no waiting"


def test_given_the_lock_held_and_no_valid_token_then_callers_wait_for_the_new_one(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher()
    aws.hold_lock("another-lambda", clock() + 10)
    polls = 0

    def sleep(seconds: float) -> None:
        nonlocal polls
        polls += 1
        clock.sleep(seconds)
        if polls == 5:
            aws.store_as_other_writer("token-of-the-other-lambda", int(clock()) + 86400)

    store = aws.store(clock=clock, sleep=sleep)
    assert store.token(fetch) == "token-of-the-other-lambda"
    assert (fetch.calls, polls) == (0, 5)


def test_given_the_lock_held_and_no_token_appearing_then_the_caller_gives_up_and_later_takes_over(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher()
    aws.hold_lock("a-lambda-that-died", clock() + 10)
    store = aws.store(clock=clock, sleep=clock.sleep)
    started = clock()
    with pytest.raises(GenesysUnavailable) as unavailable:
        store.token(fetch)
    assert 3.0 <= clock() - started < 3.2, "waited about 3 s"
    assert fetch.calls == 0
    assert "another worker is refreshing" in str(unavailable.value)
    clock.sleep(10)  # the dead holder's lock expires
    assert store.token(fetch) == "eyJ-secret-token/1+x=="
    assert fetch.calls == 1


def test_given_a_failed_login_then_the_lock_is_released_for_the_next_caller(aws: Aws) -> None:
    clock = FakeClock()
    sleeps: list[float] = []
    store = aws.store(clock=clock, sleep=sleeps.append)

    def failing() -> tuple[str, int]:
        raise GenesysUnavailable("login answered 503", status=503, path="/oauth/token")

    with pytest.raises(GenesysUnavailable, match="503"):
        store.token(failing)
    assert "lockOwner" not in aws.raw_item()
    fetch = Fetcher()
    assert aws.store(clock=clock, sleep=sleeps.append).token(fetch) == "eyJ-secret-token/1+x=="
    assert sleeps == [], "nobody waited for a lock left behind"
    with pytest.raises(GenesysUnavailable, match="without a usable token"):
        aws.store(clock=clock).token(lambda: ("", 3600), min_ttl_seconds=10**9)


def test_given_a_token_refused_by_genesys_then_it_is_replaced_once_for_the_whole_deployment(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher()
    first, second = aws.store(clock=clock), aws.store(clock=clock)
    assert first.token(fetch) == second.token(fetch) == "eyJ-secret-token/1+x=="

    first.reject("eyJ-secret-token/1+x==")  # a 401: revoked, though it had hours left
    assert first.get() is None, "a refused token is never handed out again"
    assert first.token(fetch) == "eyJ-secret-token/2+x=="
    second.reject("eyJ-secret-token/1+x==")  # its own 401 on the same token
    assert second.token(fetch) == "eyJ-secret-token/2+x==", "the replacement is read, not fetched again"
    assert fetch.calls == 2


def test_given_get_then_only_a_token_valid_long_enough_is_returned(aws: Aws) -> None:
    clock = FakeClock()
    aws.store(clock=clock).token(Fetcher(expires_in=100))
    store = aws.store(clock=clock)
    assert store.get(min_ttl_seconds=60) == "eyJ-secret-token/1+x=="
    assert store.get(min_ttl_seconds=101) is None
    clock.now += 50
    assert store.get(min_ttl_seconds=60) is None, "the cached token too: only 50 s left"
    assert aws.store(clock=clock).get(min_ttl_seconds=60) is None


def test_given_kms_unusable_then_a_fresh_login_still_serves_the_container(aws: Aws, caplog: Any) -> None:
    clock = FakeClock()
    fetch = Fetcher()
    aws.store(clock=clock).token(fetch)
    break_kms(aws.kms)
    caplog.set_level(logging.WARNING)
    store = aws.store(clock=clock)
    assert store.token(fetch) == "eyJ-secret-token/2+x==", "undecryptable: refreshed; unencryptable: kept in memory"
    assert store.token(fetch) == "eyJ-secret-token/2+x=="
    assert fetch.calls == 2
    assert "lockOwner" not in aws.raw_item()
    assert any("could not decrypt" in record.getMessage() for record in caplog.records)
    assert any("could not encrypt" in record.getMessage() for record in caplog.records)


def test_given_the_table_unreachable_then_each_container_logs_in_by_itself_once(aws: Aws) -> None:
    clock = FakeClock()
    fetch = Fetcher()
    store = SharedTokenStore(aws.dynamodb, "no-such-table", aws.kms, aws.key_id, clock=clock)
    assert store.get() is None
    assert store.token(fetch) == "eyJ-secret-token/1+x=="
    clock.now += 3600
    assert store.token(fetch) == "eyJ-secret-token/1+x==", "kept in memory until its refresh time"
    assert fetch.calls == 1


# ---- secrets ---------------------------------------------------------------------------------------------------------


def test_given_every_path_then_neither_the_token_nor_its_ciphertext_appears_in_a_log_line_or_an_error(
    aws: Aws, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)  # botocore logs request and response bodies at DEBUG
    clock = FakeClock()
    fetch = Fetcher(expires_in=3600)
    errors: list[BaseException] = []
    tokens: list[str] = []
    ciphertexts: list[bytes] = []

    def remember() -> None:
        item = aws.raw_item()
        if "ciphertext" in item:
            ciphertexts.append(item["ciphertext"]["B"])

    first, second = aws.store(clock=clock, sleep=clock.sleep), aws.store(clock=clock, sleep=clock.sleep)
    tokens.append(first.token(fetch))  # login, encrypt, store
    remember()
    tokens.append(second.token(fetch))  # read, decrypt
    clock.now += 3600 - 100
    aws.hold_lock("another-lambda", clock() + 10)
    tokens.append(second.token(fetch))  # lock held, old token used
    clock.now += 11
    tokens.append(first.token(fetch))  # refresh, lock taken over from an expired holder
    remember()
    first.reject(tokens[-1])
    tokens.append(first.token(fetch))  # a 401: replaced
    remember()
    refreshed = clock()
    repair = break_kms(aws.kms)
    tokens.append(aws.store(clock=clock).token(fetch))  # KMS refuses to decrypt, then to encrypt
    repair()
    clock.now = refreshed + 3601
    aws.hold_lock("another-lambda", clock() + 10)
    try:
        aws.store(clock=clock, sleep=clock.sleep).token(fetch)  # expired, lock held: unavailable
    except GenesysUnavailable as exc:
        errors.append(exc)
    clock.now += 11

    def failing_login() -> tuple[str, int]:
        raise RuntimeError("login failed")

    try:
        aws.store(clock=clock).token(failing_login)
    except RuntimeError as exc:
        errors.append(exc)

    assert len(errors) == 2
    assert len(set(tokens)) == 4 and len(ciphertexts) == 3
    secrets = set()
    for token in tokens:
        secrets |= {token, base64.b64encode(token.encode()).decode()}
    for blob in ciphertexts:
        secrets |= {base64.b64encode(blob).decode(), blob.hex(), repr(blob)[2:-1]}
    logged = [record.getMessage() for record in caplog.records] + [caplog.text]
    raised = [text for exc in errors for text in (str(exc), repr(exc), exc.__class__.__name__)]
    assert len(caplog.records) > 50, "botocore's DEBUG lines are captured: the check below sees the bodies"
    for secret in secrets:
        assert not any(secret in line for line in logged), "a secret in a log line"
        assert not any(secret in text for text in raised), "a secret in an error"
    assert any("[redacted]" in line for line in logged), "the bodies were there, redacted"


def test_given_a_cold_container_then_its_first_read_is_redacted_before_it_knows_the_secret(
    aws: Aws, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold container's first GetItem and Decrypt are logged by botocore and boto3 before it has seen the
    ciphertext or the token: the secret-bearing fields are redacted by name, whatever they hold."""
    clock = FakeClock()
    token = aws.store(clock=clock).token(Fetcher())
    blob = aws.raw_item()["ciphertext"]["B"]
    monkeypatch.setattr(REDACTOR, "_snapshot", ())  # this process forgets every value it learnt
    caplog.set_level(logging.DEBUG)
    cold = aws.store(clock=clock)
    assert cold.get() == token
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "GetItem" in text and "Decrypt" in text, "the calls were logged"
    for secret in (token, base64.b64encode(token.encode()).decode(), base64.b64encode(blob).decode(), repr(blob)[2:-1]):
        assert secret not in text
    assert text.count("[redacted]") >= 3
