"""Group layer: scalar/point validation, identity handling, homomorphism."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.crypto import elgamal
from ballot_tx.crypto import group as g
from ballot_tx.errors import CryptoError, ErrorCode

scalars = st.integers(0, g.L - 1)


def test_generator_and_order() -> None:
    assert g.G == g.small_multiple(1)
    assert g.is_point(g.G)
    assert g.base(g.sc(g.L - 1)) == g.neg(g.G)
    assert g.add(g.base(g.sc(g.L - 1)), g.G) == g.IDENTITY


def test_identity_is_explicit() -> None:
    assert g.base(g.sc(0)) == g.IDENTITY
    assert g.mul(g.sc(0), g.G) == g.IDENTITY
    assert g.mul(g.sc(5), g.IDENTITY) == g.IDENTITY
    assert g.add(g.IDENTITY, g.G) == g.G
    assert g.sum_points([]) == g.IDENTITY
    assert not g.is_point(g.IDENTITY)
    with pytest.raises(CryptoError) as e:
        g.point(g.IDENTITY, "K")
    assert e.value.code == ErrorCode.CRYPTO_BAD_POINT
    assert g.point(g.IDENTITY, "sum", allow_identity=True) == g.IDENTITY


@given(st.binary(min_size=32, max_size=32))
def test_wire_points_are_validated(b: bytes) -> None:
    try:
        g.point(b, "p")
    except CryptoError as e:
        assert e.code == ErrorCode.CRYPTO_BAD_POINT
        assert "p " in e.message
    else:
        assert g.is_point(b)


def test_non_canonical_encodings_are_rejected() -> None:
    # 2^255 - 19 + 1 encodes field element 1 non-canonically; all-ones is negative/non-canonical
    for b in [b"\xff" * 32, (2**255 - 18).to_bytes(32, "little"), b"\x01" + bytes(31)]:
        with pytest.raises(CryptoError) as e:
            g.point(b, "p")
        assert e.value.code == ErrorCode.CRYPTO_BAD_POINT
    for bad in [b"\x00" * 31, g.L.to_bytes(32, "little"), b"\xff" * 32]:
        with pytest.raises(CryptoError) as e:
            g.scalar(bad, "s")
        assert e.value.code == ErrorCode.CRYPTO_BAD_SCALAR
    assert g.scalar((g.L - 1).to_bytes(32, "little")) == g.L - 1


@given(scalars, scalars)
def test_mul_is_a_homomorphism(a: int, b: int) -> None:
    assert g.add(g.base(g.sc(a)), g.base(g.sc(b))) == g.base(g.sc(a + b))
    assert g.mul(g.sc(a), g.base(g.sc(b))) == g.base(g.sc(a * b))
    assert g.sub(g.base(g.sc(a)), g.base(g.sc(b))) == g.base(g.sc(a - b))


@given(st.binary(max_size=64))
def test_hash_to_point_gives_valid_points(data: bytes) -> None:
    p = g.hash_to_point("test", data)
    assert g.is_point(p)
    assert p != g.hash_to_point("test2", data)


@given(st.integers(0, 50), st.integers(0, 50), scalars, scalars, scalars)
def test_elgamal_is_additively_homomorphic(m1: int, m2: int, r1: int, r2: int, x: int) -> None:
    x = x or 1
    key = g.base(g.sc(x))
    c = elgamal.add(elgamal.encrypt(key, m1, r1), elgamal.encrypt(key, m2, r2))
    assert c == elgamal.encrypt(key, m1 + m2, r1 + r2)
    assert elgamal.decrypt_point(c, x) == g.base(g.sc(m1 + m2))
    assert elgamal.sub(c, elgamal.encrypt(key, m2, r2)) == elgamal.encrypt(key, m1, r1)
