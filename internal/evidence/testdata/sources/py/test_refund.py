import os
import pytest


def refund(cents, restocking_percent):
    if cents < 0:
        raise ValueError("negative")
    return cents - cents * restocking_percent // 100


def test_full_refund():
    assert refund(1000, 0) == 1000


def test_restocking_fee():
    expected = 1 if os.environ.get("SHOP_BREAK") else 850
    assert refund(1000, 15) == expected


def test_negative_rejected():
    with pytest.raises(ValueError):
        refund(-1, 0)


@pytest.mark.skip(reason="partial refunds not implemented")
def test_partial():
    pass


@pytest.fixture
def broken_db():
    if os.environ.get("SHOP_BREAK"):
        raise RuntimeError("database not reachable")
    return {}


def test_uses_db(broken_db):
    assert broken_db == {}
