"""Voting codes: generation, check symbol, normalisation of what people type, key derivation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ballot_tx.eligibility.one_time_code import (
    ALPHABET,
    CODE_LEN,
    CodeError,
    check_symbol,
    code_from_seed,
    code_keys,
    code_public_key,
    format_code,
    generate_code,
    normalize,
)
from ballot_tx.errors import ErrorCode

codes = st.text(alphabet=ALPHABET, min_size=CODE_LEN - 1, max_size=CODE_LEN - 1).map(
    lambda p: p + check_symbol(p)
)


@given(codes)
def test_formatted_and_sloppy_forms_normalize(code: str) -> None:
    assert normalize(code) == code
    pretty = format_code(code)
    assert pretty.count("-") == 3 and normalize(pretty) == code
    assert normalize("  " + pretty.lower().replace("-", " ") + " ") == code
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in code)  # what a Japanese IME produces
    assert normalize(fullwidth) == code
    assert normalize(code.replace("0", "O").replace("1", "I")) == code


@given(codes, st.data())
def test_check_symbol_catches_one_substitution(code: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, CODE_LEN - 1))
    c = data.draw(st.sampled_from(ALPHABET).filter(lambda c: c != code[i]))
    with pytest.raises(CodeError) as e:
        normalize(code[:i] + c + code[i + 1 :])
    assert e.value.code == ErrorCode.ELIGIBILITY_BAD_CODE


@given(codes, st.data())
def test_check_symbol_catches_adjacent_swap(code: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, CODE_LEN - 2))
    a, b = code[i], code[i + 1]
    swapped = code[:i] + b + a + code[i + 2 :]
    if a == b:
        assert normalize(swapped) == code
        return
    # Luhn mod N misses exactly the swaps of the two symbols whose values sum to N-1
    # ("0" and "Z" here, like 0/9 in decimal Luhn)
    if {a, b} == {ALPHABET[0], ALPHABET[-1]}:
        return
    with pytest.raises(CodeError):
        normalize(swapped)


def test_bad_lengths_and_symbols() -> None:
    code = generate_code()
    for bad in (code[:-1], code + "0", code[:5] + "U" + code[6:], "", "ABC!"):
        with pytest.raises(CodeError) as e:
            normalize(bad)
        assert e.value.code == ErrorCode.ELIGIBILITY_BAD_CODE


def test_generated_codes_are_valid_and_distinct() -> None:
    got = {generate_code() for _ in range(200)}
    assert len(got) == 200
    assert all(normalize(c) == c for c in got)
    assert normalize(code_from_seed(b"s" * 32, 3)) == code_from_seed(b"s" * 32, 3)


def test_key_derivation_binds_election_salt_and_code() -> None:
    eid, salt = b"e" * 32, b"s" * 32
    code = code_from_seed(b"seed" * 8, 1)
    pk = code_public_key(eid, salt, code)
    assert pk == code_keys(eid, salt, format_code(code).lower()).ed25519_public
    assert pk != code_public_key(b"f" * 32, salt, code)
    assert pk != code_public_key(eid, b"t" * 32, code)
    assert pk != code_public_key(eid, salt, code_from_seed(b"seed" * 8, 2))
