from identity_service.domain.passwords import (
    PasswordPolicy,
    PasswordRejected,
    check_password,
    common_passwords,
)

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
    assert reason("password", totp=True) == "common_password"
    assert reason("PassWord1", totp=True) == "common_password"  # case does not help
    assert reason("sunflower-kettle-9", totp=True) is None


def test_email_local_part_is_refused_too() -> None:
    assert reason("ada.lovelace", email="ada.lovelace@example.com", totp=True) == "matches_email"
