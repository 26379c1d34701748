from pathlib import Path

import identity_service
from identity_service.domain.passwords import (
    Blocklist,
    PasswordPolicy,
    PasswordRejected,
    check_password,
    common_passwords,
)

BLOCKLIST_FILE = Path(identity_service.__file__).parent / "data" / "common-passwords.txt"
POLICY = PasswordPolicy(min_length=15, min_length_with_totp=8, max_length=128)


def reason(password: str, *, email: str = "ada@example.com", totp: bool = False) -> str | None:
    try:
        check_password(password, email=email, totp_enabled=totp, policy=POLICY)
    except PasswordRejected as exc:
        return exc.reason
    return None


def test_length_limits_depend_on_second_factor() -> None:
    assert reason("a" * 14) == "too_short"
    assert reason("a" * 15) is None
    assert reason("a" * 8, totp=True) is None
    assert reason("a" * 7, totp=True) == "too_short"
    assert reason("a" * 129) == "too_long"


def test_length_counts_nfc_characters_not_code_points() -> None:
    decomposed = "e\u0301" * 15  # 30 code points, 15 characters after NFC
    assert reason(decomposed) is None
    assert reason("e\u0301" * 14) == "too_short"


def test_email_and_control_characters_are_refused() -> None:
    assert reason("Ada@Example.com", email="ada@example.com", totp=True) == "matches_email"
    assert reason("correct horse\x00battery staple") == "control_characters"


def test_blocklist_ships_at_least_10000_common_passwords_and_is_enforced() -> None:
    assert len(common_passwords()) >= 10_000
    assert "123456" in common_passwords() and "password" in common_passwords()
    # Whole lines only: no two lines joined, nothing empty.
    assert "123456\npassword" not in common_passwords() and "" not in common_passwords()
    assert reason("password", totp=True) == "common_password"
    assert reason("PassWord1", totp=True) == "common_password"  # case does not help
    assert reason("sunflower-kettle-9", totp=True) is None


def test_email_local_part_is_refused_too() -> None:
    assert reason("ada.lovelace", email="ada.lovelace@example.com", totp=True) == "matches_email"


def test_every_shipped_password_is_found_and_close_misses_are_not() -> None:
    lines = [line for line in (BLOCKLIST_FILE.read_text().splitlines()) if line]
    shipped = common_passwords()
    assert all(line in shipped for line in lines)
    listed = set(lines)
    near = {f"{line}x" for line in lines[:2000]} | {line[1:] for line in lines[:2000]}
    assert all((n in shipped) == (n in listed) for n in near)
    assert "b" in Blocklist(["a", "b", "c"]) and "d" not in Blocklist(["a", "b", "c"])
